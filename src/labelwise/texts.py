"""What a document text and a label name may be: the one check every entry point uses (the
file readers, ``TextClassifier`` and the HTTP service), so no input reaches a model that a
reader would have refused, and nothing is accepted that cannot be written back as UTF-8 JSON.
"""

from __future__ import annotations

from typing import Any


def unicode_problem(value: str) -> str | None:
    """Why ``value`` cannot be written as UTF-8 (a lone surrogate such as ``"\\ud800"``, which
    JSON escapes can carry but no UTF-8 file can), or None."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        return (f"holds a lone surrogate {value[err.start]!r} at character {err.start + 1}, "
                "which is not valid Unicode text")
    return None


def text_problem(value: Any, limit: int | None = None) -> str | None:
    """Why ``value`` is not a document text, or None: not a string, empty or whitespace
    only, not valid Unicode, or longer than ``limit`` characters."""
    if not isinstance(value, str):
        return f"expected a string, got {type(value).__name__}"
    if not value.strip():
        return "is empty or whitespace only"
    if limit is not None and len(value) > limit:
        return f"has {len(value):,} characters, over the limit of {limit:,}"
    return unicode_problem(value)


def label_problem(value: str) -> str | None:
    """Why a label name is not usable, or None: empty, a line break inside (it could not be
    written one per line, and in a CSV file it means an unclosed quote), or not valid Unicode."""
    if not value.strip():
        return "a label is an empty string"
    if "\n" in value or "\r" in value:
        return f"label {value[:60]!r} contains a line break"
    problem = unicode_problem(value)
    return None if problem is None else f"label {value[:60]!r} {problem}"
