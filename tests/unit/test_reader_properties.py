"""Readers never lose rows silently: for generated files, and for the same files damaged by
one edit (a quote or line break added or removed, a stray bracket, an invalid character),
reading gives every record or a DataError naming the file and line, never fewer records."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labelwise.data.errors import DataError
from labelwise.data.formats import read_examples

# texts with the characters that need CSV quoting; labels as in real files
TEXT = st.text(alphabet='ab ,"|\n\tx\u00e9', min_size=1, max_size=12).filter(lambda t: t.strip() != "")
LABEL = st.text(alphabet="abcxyz_-", min_size=1, max_size=5)
RECORDS = st.lists(st.tuples(TEXT, st.lists(LABEL, min_size=0, max_size=3, unique=True)),
                   min_size=1, max_size=12)
SETTINGS = settings(max_examples=150, derandomize=True, database=None, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def _csv(records: list[tuple[str, list[str]]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["text", "labels"])
    for text, labels in records:
        writer.writerow([text, "|".join(labels)])
    return out.getvalue()


def _jsonl(records: list[tuple[str, list[str]]]) -> str:
    return "".join(json.dumps({"text": t, "labels": y}) + "\n" for t, y in records)


def _read(path: Path, n: int) -> list[tuple[str, list[str]]] | None:
    """The records read, or None after a DataError that names the file and a line."""
    try:
        got = read_examples(path)
    except DataError as err:
        assert err.path == str(path) and err.line is not None and err.line >= 1, str(err)
        assert re.match(rf"{re.escape(str(path))}:\d+: ", str(err)), str(err)
        return None
    return [(e.text, list(e.labels)) for e in got]


@SETTINGS
@given(RECORDS)
def test_csv_round_trip(tmp_path: Path, records: list[tuple[str, list[str]]]) -> None:
    path = tmp_path / "data.csv"
    path.write_text(_csv(records), encoding="utf-8")
    assert _read(path, len(records)) == records


EDITS = st.sampled_from(["delete", "insert"])
INSERTED = st.sampled_from(['"', "\n", ",", "|", "\r\n", '""'])


@SETTINGS
@given(RECORDS, EDITS, INSERTED, st.integers(0, 10_000))
def test_damaged_csv_gives_every_row_or_an_error(tmp_path: Path, records: list[tuple[str, list[str]]],
                                                 edit: str, piece: str, where: int) -> None:
    content = _csv(records)
    head = content.index("\n") + 1  # damage the data rows, not the header
    if edit == "delete":
        quotes = [i for i, c in enumerate(content) if c == '"' and i >= head]
        if not quotes:
            return
        i = quotes[where % len(quotes)]
        content = content[:i] + content[i + 1:]
    else:
        i = head + where % (len(content) - head + 1)
        content = content[:i] + piece + content[i:]
    path = tmp_path / "data.csv"
    path.write_text(content, encoding="utf-8")
    got = _read(path, len(records))
    assert got is None or len(got) == len(records), (content, got)


@SETTINGS
@given(RECORDS, st.sampled_from(["{", "}", "[", "]", '"', "\n", ",", "\\", "\\ud800", "\\udfff"]),
       st.integers(0, 10_000))
def test_damaged_jsonl_gives_every_row_or_an_error(tmp_path: Path, records: list[tuple[str, list[str]]],
                                                   piece: str, where: int) -> None:
    content = _jsonl(records)
    i = where % (len(content) + 1)
    content = content[:i] + piece + content[i:]
    path = tmp_path / "data.jsonl"
    path.write_text(content, encoding="utf-8")
    got = _read(path, len(records))
    assert got is None or len(got) == len(records), (content, got)
    for text, labels in got or []:  # what is read can be written back as UTF-8 JSON
        json.dumps({"text": text, "labels": labels}, ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize(("content", "where"), [
    ('text,labels\nhello,"a|b\nworld,c\nmore,d\n', ":2:"),  # unclosed quote in the labels column
    ('text,labels\n"hello,a\nworld,c\nmore,d\n', ":2:"),  # unclosed quote in the text column
    ('text,labels\nhello,"a\nb"\nworld,c\n', ":2:"),  # a label holding a line break
    ('text,labels\nok,a\n"hel"lo,a\n', ":3:"),  # text after a closing quote
])
def test_csv_quoting_errors_name_the_row(tmp_path: Path, content: str, where: str) -> None:
    path = tmp_path / "data.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=re.escape(where)):
        read_examples(path)


@pytest.mark.parametrize(("line", "what"), [
    ('{"text": "a\\ud800", "labels": ["x"]}', "lone surrogate"),
    ('{"text": "a", "labels": ["x\\udc00"]}', "lone surrogate"),
    ('{"text": "a", "labels": ["x\\ny"]}', "line break"),
    ('{"text": "a", "labels": [' + "9" * 5000 + "]}", "unreadable JSON value"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
])
def test_jsonl_values_that_cannot_round_trip_are_refused(tmp_path: Path, line: str, what: str) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text('{"text": "fine", "labels": ["x"]}\n' + line + "\n")
    with pytest.raises(DataError, match=f":2: .*{what}"):
        read_examples(path)
