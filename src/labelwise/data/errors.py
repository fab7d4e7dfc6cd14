"""The one error type of the data layer: it says what is wrong, where, and how to fix it."""

from __future__ import annotations

from pathlib import Path

from labelwise.errors import UserError


class DataError(UserError):
    """A problem with input data, a dataset directory or a label file.

    The message reads ``"{path}:{line}: {what}. {fix}"`` (the location part shrinks to
    ``"{path}: "`` without a line, and disappears without a path).

    Attributes:
        what: The problem, without location.
        fix: How to fix it (may be empty).
        path: The file concerned, or None.
        line: The 1-based line number in ``path``, or None.
    """

    def __init__(
        self,
        what: str,
        fix: str = "",
        *,
        path: str | Path | None = None,
        line: int | None = None,
    ) -> None:
        self.what = what.rstrip(". ")
        self.fix = fix.strip()
        self.path = None if path is None else str(path)
        self.line = line
        super().__init__(self._render())

    def _render(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}:{self.line}: " if self.line is not None else f"{self.path}: "
        return f"{where}{self.what}." + (f" {self.fix}" if self.fix else "")

    @classmethod
    def at(cls, source: str | None, what: str, fix: str = "") -> DataError:
        """Build an error from an ``Example.source`` string ("path:line") or None."""
        if source:
            path, sep, line = source.rpartition(":")
            if sep and line.isdigit():
                return cls(what, fix, path=path, line=int(line))
            return cls(what, fix, path=source)
        return cls(what, fix)
