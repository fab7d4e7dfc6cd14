"""File readers: each yields ``Example(text, labels, source="path:line")``.

Conventions shared by every reader:

* Compression is read from the content: gzip data (magic bytes ``1f 8b``) is decompressed
  whatever the name; a name ending in ``.gz`` whose content is not gzip is an error.
* Files are UTF-8 (a byte-order mark at the start is accepted); blank lines are skipped.
* A label is a non-empty string; JSON integers are accepted and turned into strings
  (numeric label ids), other types are errors. A record may have no labels (``[]``).
  The same label twice in one record is an error (it usually means a conversion bug).
* CSV and TSV need a header row with ``text`` and ``labels`` columns (others are ignored);
  the labels cell is split on ``label_sep`` (default ``"|"``, e.g. ``sports|politics``).
  CSV follows RFC 4180 quoting; TSV is read without quote processing, so a field may not
  hold tabs or newlines.
* LibMultiLabel text: ``label1 label2<TAB>text`` (or ``id<TAB>labels<TAB>text``).
* Parquet (``.parquet``, needs pyarrow), like the tables the API takes (pandas, Arrow,
  ``datasets``): a ``text`` column and a ``labels`` column of lists of strings, or of one
  string or integer a row.
* JSON Lines, CSV, TSV and Parquet read other field names with ``text_column`` and
  ``label_column`` (``data.text_column``, ``data.label_column``). A label field named
  otherwise than ``labels`` may hold one label (a string or an integer) instead of a list,
  as ``label`` columns usually do.
"""

from __future__ import annotations

import csv
import functools
import gzip
import json
import os
import sys
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from labelwise.data.errors import DataError
from labelwise.registry import FORMATS
from labelwise.texts import label_problem, text_problem
from labelwise.types import Example

GZIP_MAGIC = b"\x1f\x8b"
SUFFIX_FORMATS = {
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".tsv": "tsv",
    ".txt": "libmultilabel",
    ".parquet": "parquet",
}
DEFAULT_TEXT, DEFAULT_LABELS = "text", "labels"
_FIND_HINT = (
    "Check the path; for a named dataset run `labelwise data show NAME` and check "
    "--data-dir (or $LABELWISE_DATA)"
)
_RECORD_HINT = 'Each line must be one JSON object such as {"text": "...", "labels": ["a"]}'
Fail = Callable[..., DataError]


def iter_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` of a UTF-8 text file, plain or gzip; line endings removed."""
    p = Path(path)
    if not p.exists():
        raise DataError("file not found", _FIND_HINT, path=p)
    if p.is_dir():
        raise DataError("is a directory, not a file", "Pass the path of a data file", path=p)
    with p.open("rb") as fh:
        is_gzip = fh.read(2) == GZIP_MAGIC
    if p.suffix.lower() == ".gz" and not is_gzip:
        raise DataError(
            "the name ends in .gz but the content is not gzip data",
            "Download or copy the file again, or drop .gz from a plain-text file's name",
            path=p,
        )
    lineno = 0
    try:
        with gzip.open(p, "rb") if is_gzip else p.open("rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                try:
                    text = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
                except UnicodeDecodeError as err:
                    raise DataError(
                        f"invalid UTF-8 (byte 0x{raw[err.start]:02x} at byte {err.start + 1})",
                        "Save the file as UTF-8, e.g. `iconv -f latin1 -t utf-8 IN > OUT`",
                        path=p,
                        line=lineno,
                    ) from None
                yield lineno, text.rstrip("\r\n")
    except (EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise DataError(
            f"the gzip file is truncated or corrupt after line {lineno} ({err})",
            "Download or copy it again (`gzip -t FILE` checks a file)",
            path=p,
            line=lineno + 1,
        ) from None


def _type_name(value: Any) -> str:
    names = {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)


def _check_text(value: Any, fail: Fail) -> str:
    if not isinstance(value, str):
        raise fail(f"'text' must be a string, got {_type_name(value)}", _RECORD_HINT)
    limit = max_text_chars()
    problem = text_problem(value, limit)
    if problem is None:
        return value
    if len(value) > limit:
        raise fail(
            f"'text' {problem}",
            f"Split the document into several records, or raise the limit with "
            f"{MAX_TEXT_ENV}=<characters>",
        )
    if not value.strip():
        raise fail(f"'text' {problem}", "Fill in the text or remove the line")
    raise fail(f"'text' {problem}", "Remove or replace the character; the file must hold valid Unicode")


MAX_TEXT_ENV = "LABELWISE_MAX_TEXT_CHARS"


def max_text_chars() -> int:
    """The longest text a record may hold (default 1,000,000 characters, far beyond any
    tokenizer's max_length; ``$LABELWISE_MAX_TEXT_CHARS`` changes it)."""
    raw = os.environ.get(MAX_TEXT_ENV, "1000000")
    try:
        return max(1, int(raw))
    except ValueError:
        raise ValueError(f"{MAX_TEXT_ENV}={raw!r} is not a whole number of characters") from None


def _check_labels(values: list[Any], fail: Fail) -> tuple[str, ...]:
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (str, int)):
            raise fail(f"label {v!r} is {_type_name(v)}, expected a string", _RECORD_HINT)
        problem = label_problem(str(v))
        if problem is not None:
            raise fail(problem, "Labels are names on one line; remove the label or fix its quoting")
        out.append(str(v))
    dups = sorted(k for k, n in Counter(out).items() if n > 1)
    if dups:
        raise fail(
            f"duplicate label {', '.join(map(repr, dups))} in one record", "List each label once"
        )
    return tuple(out)


def _label_values(value: Any, column: str, fail: Fail, hint: str, one_ok: bool = False) -> list[Any]:
    """A record's label field as a list: a list as it is; one string or integer as a list
    of one in a table (``one_ok``) or under a field named otherwise than ``labels``; None
    as no labels."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if (one_ok or column != DEFAULT_LABELS) and isinstance(value, (str, int)) and not isinstance(value, bool):
        return [value]
    if isinstance(value, str):
        raise fail(
            f"'{column}' is a string ({value!r}), expected a list",
            f'Write one string per label, e.g. "{column}": {json.dumps([value])}',
        )
    raise fail(f"'{column}' must be a list of strings, got {_type_name(value)}", hint)


@FORMATS.register("jsonl")
def read_jsonl(path: str | Path, *, require_labels: bool = True, text_column: str = DEFAULT_TEXT,
               label_column: str = DEFAULT_LABELS) -> Iterator[Example]:
    """JSON Lines, plain or gzip: ``{"text": str, "labels": [str, ...]}`` per line (other
    field names with ``text_column`` and ``label_column``)."""
    for lineno, line in iter_lines(path):
        if not line.strip():
            continue
        fail = functools.partial(DataError, path=path, line=lineno)
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise fail(f"malformed JSON ({err.msg} at column {err.colno})", _RECORD_HINT) from None
        except RecursionError:
            raise fail("the JSON is nested too deeply to read", _RECORD_HINT) from None
        except ValueError as err:  # e.g. an integer with more digits than Python converts
            raise fail(f"unreadable JSON value ({str(err)[:120]})", _RECORD_HINT) from None
        if not isinstance(obj, dict):
            raise fail(f"expected a JSON object, got {_type_name(obj)}", _RECORD_HINT)
        if text_column not in obj:
            hint = _RECORD_HINT if text_column == DEFAULT_TEXT else \
                "Set data.text_column to the field that holds the text"
            raise fail(f"missing key '{text_column}' (keys found: {', '.join(obj) or 'none'})", hint)
        text = _check_text(obj[text_column], fail)
        if label_column not in obj:
            if require_labels:
                hint = ("Rename 'label' to 'labels', or set data.label_column=label"
                        if "label" in obj and label_column == DEFAULT_LABELS else _RECORD_HINT)
                raise fail(f"missing key '{label_column}' (use [] for a document without labels)", hint)
            labels: list[Any] = []
        else:
            labels = _label_values(obj[label_column], label_column, fail, _RECORD_HINT)
        yield Example(text, _check_labels(labels, fail), f"{path}:{lineno}")


def _read_delimited(
    path: str | Path, delimiter: str, require_labels: bool, label_sep: str,
    text_column: str = DEFAULT_TEXT, label_column: str = DEFAULT_LABELS,
) -> Iterator[Example]:
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))  # long documents
    lines = iter_lines(path)
    reader = csv.reader(
        (t + "\n" for _, t in lines),
        delimiter=delimiter,
        quoting=csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL,
        strict=True,  # a stray or unclosed quote is an error, not rows merged into one field
    )
    header: list[str] | None = None
    end = 0
    while True:
        start = end + 1
        try:
            row = next(reader, None)
        except csv.Error as err:
            raise DataError(
                f"the row starting here is not valid CSV ({err})",
                'Check the quoting from that line on: a field that holds commas, quotes or line '
                'breaks is wrapped in double quotes, and a quote inside it is doubled ("")',
                path=path,
                line=start,
            ) from None
        end = reader.line_num
        if row is None:
            return
        fail = functools.partial(DataError, path=path, line=start)
        if not any(cell.strip() for cell in row):
            continue
        if header is None:
            header = [c.strip() for c in row]
            needed = [text_column, label_column] if require_labels else [text_column]
            missing = [c for c in needed if c not in header]
            if missing:
                raise fail(
                    f"the header has no {' or '.join(map(repr, missing))} column "
                    f"(found: {', '.join(header)})",
                    f"Name the columns '{text_column}' and '{label_column}' in the first row, or set "
                    "data.text_column and data.label_column to the names it has",
                )
            continue
        if len(row) != len(header):
            what = (
                "contain tabs"
                if delimiter == "\t"
                else "hold commas or newlines unquoted, or an unclosed quote"
            )
            raise fail(
                f"expected {len(header)} fields as in the header, got {len(row)}",
                f"Check for text fields that {what}",
            )
        cells = dict(zip(header, row, strict=True))
        text = _check_text(cells[text_column], fail)
        pieces = [s.strip() for s in cells.get(label_column, "").split(label_sep)]
        yield Example(text, _check_labels([s for s in pieces if s], fail), f"{path}:{start}")


@FORMATS.register("csv")
def read_csv(
    path: str | Path, *, require_labels: bool = True, label_sep: str = "|",
    text_column: str = DEFAULT_TEXT, label_column: str = DEFAULT_LABELS,
) -> Iterator[Example]:
    """Comma-separated values with a header; labels joined by ``label_sep`` ("|")."""
    return _read_delimited(path, ",", require_labels, label_sep, text_column, label_column)


@FORMATS.register("tsv")
def read_tsv(
    path: str | Path, *, require_labels: bool = True, label_sep: str = "|",
    text_column: str = DEFAULT_TEXT, label_column: str = DEFAULT_LABELS,
) -> Iterator[Example]:
    """Tab-separated values with a header; labels joined by ``label_sep`` ("|")."""
    return _read_delimited(path, "\t", require_labels, label_sep, text_column, label_column)


@FORMATS.register("parquet")
def read_parquet(path: str | Path, *, require_labels: bool = True, text_column: str = DEFAULT_TEXT,
                 label_column: str = DEFAULT_LABELS) -> Iterator[Example]:
    """Parquet (pyarrow): a text column and a label column (lists, or one label a row)."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError("reading Parquet needs pyarrow", "pip install pyarrow", path=path) from None
    p = Path(path)
    if not p.is_file():
        raise DataError("file not found" if not p.exists() else "is a directory, not a file", _FIND_HINT,
                        path=p)
    try:
        table = pq.read_table(p)
    except Exception as err:  # pyarrow's errors have no common base worth naming
        raise DataError(f"not a readable Parquet file ({str(err)[:200]})", "Check the file", path=p) from None
    yield from rows_as_examples(table.column_names, lambda c: table.column(c).to_pylist(), str(p),
                                text_column, label_column, require_labels)


def rows_as_examples(columns: list[str], column: Callable[[str], list[Any]], where: str,
                     text_column: str = DEFAULT_TEXT, label_column: str = DEFAULT_LABELS,
                     require_labels: bool = True) -> Iterator[Example]:
    """Examples from a table's columns (Parquet, Arrow, pandas, Hugging Face ``datasets``):
    ``column(name)`` gives the values of a column; ``where`` names the table in errors, and
    row i is ``where:i+1``."""
    if text_column not in columns:
        raise DataError(f"no column '{text_column}' (columns: {', '.join(map(str, columns))})",
                        "Set data.text_column to the column that holds the text", path=where)
    has_labels = label_column in columns
    if require_labels and not has_labels:
        raise DataError(f"no column '{label_column}' (columns: {', '.join(map(str, columns))})",
                        "Set data.label_column to the column that holds the labels", path=where)
    texts = column(text_column)
    labels = column(label_column) if has_labels else [None] * len(texts)
    for i, (text, value) in enumerate(zip(texts, labels, strict=True)):
        fail = functools.partial(DataError, path=where, line=i + 1)
        values = _label_values(value, label_column, fail, "Give a list of labels a row", one_ok=True)
        yield Example(_check_text(text, fail), _check_labels(values, fail), f"{where}:{i + 1}")


@FORMATS.register("libmultilabel")
def read_libmultilabel(path: str | Path, *, require_labels: bool = True) -> Iterator[Example]:
    """LibMultiLabel text: ``label1 label2<TAB>text``, optionally ``id<TAB>`` first."""
    for lineno, line in iter_lines(path):
        if not line.strip():
            continue
        fail = functools.partial(DataError, path=path, line=lineno)
        fields = line.split("\t")
        if len(fields) == 1 and not require_labels:
            fields = ["", line]
        if len(fields) not in (2, 3):
            raise fail(
                f"expected 'labels<TAB>text' or 'id<TAB>labels<TAB>text', found "
                f"{len(fields)} tab-separated fields",
                "Separate labels by spaces and replace tabs inside the text by spaces",
            )
        text = _check_text(fields[-1], fail)
        yield Example(text, _check_labels(fields[-2].split(), fail), f"{path}:{lineno}")


def detect_format(path: str | Path) -> str:
    """The format name for a file suffix (``.gz`` is looked through)."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    ext = suffixes[-1] if suffixes else ""
    if ext not in SUFFIX_FORMATS:
        raise DataError(
            f"cannot tell the data format from the suffix {ext or '(none)'!r}",
            f"Use .jsonl[.gz], .csv, .tsv, .txt or .parquet, or pass format= one of "
            f"{', '.join(FORMATS.names())}",
            path=path,
        )
    return SUFFIX_FORMATS[ext]


def read_examples(
    path: str | Path, format: str = "auto", require_labels: bool = True, **options: Any
) -> list[Example]:
    """Read a whole file; ``format="auto"`` picks the reader from the suffix.

    ``options`` go to the reader (e.g. ``label_sep`` for csv/tsv; ``text_column`` and
    ``label_column`` for every format but LibMultiLabel text, which has no field names).
    """
    name = detect_format(path) if format == "auto" else format
    options = {k: v for k, v in options.items()
               if not (k == "text_column" and v == DEFAULT_TEXT or k == "label_column" and v == DEFAULT_LABELS)}
    if name == "libmultilabel" and options.keys() & {"text_column", "label_column"}:
        raise DataError("LibMultiLabel text has no field names, so data.text_column and data.label_column "
                        "do not apply", "Drop them, or give the data as JSON Lines, CSV or Parquet", path=path)
    return list(FORMATS.get(name)(path, require_labels=require_labels, **options))


def iter_texts(path: str | Path) -> Iterator[str]:
    """Stream the documents of a prediction input.

    JSONL, CSV and TSV files give their ``text`` field (``labels`` may be absent); any
    other file is plain text, one document per line (blank lines are skipped), except a
    ``.txt`` file whose lines are all LibMultiLabel's ``labels<TAB>text``, which
    ``labelwise evaluate`` reads as labelled data: its texts are read, without the labels
    (a note says so). ``"-"`` reads standard input.
    """
    if str(path) == "-":
        yield from (line.rstrip("\r\n") for line in sys.stdin if line.strip())
        return
    ext = [s.lower() for s in Path(path).suffixes if s.lower() != ".gz"][-1:]
    fmt = SUFFIX_FORMATS.get(ext[0] if ext else "")
    if fmt in ("jsonl", "csv", "tsv"):
        yield from (ex.text for ex in FORMATS.get(fmt)(path, require_labels=False))
    elif fmt == "libmultilabel" and _looks_labelled(path):
        print(f"labelwise: note: {path} reads as LibMultiLabel text (labels<TAB>text, as `labelwise "
              "evaluate` reads it): predicting its texts, not its labels. For plain text give one "
              "document a line without tabs", file=sys.stderr)
        yield from (ex.text for ex in read_libmultilabel(path))
    else:
        yield from (line for _, line in iter_lines(path) if line.strip())


def _looks_labelled(path: str | Path, lines: int = 20) -> bool:
    """Whether the first ``lines`` non-blank lines of a text file all have LibMultiLabel's
    one or two tabs (``labels<TAB>text``, ``id<TAB>labels<TAB>text``)."""
    seen = 0
    for _, line in iter_lines(path):
        if not line.strip():
            continue
        if line.count("\t") not in (1, 2):
            return False
        seen += 1
        if seen >= lines:
            break
    return seen > 0
