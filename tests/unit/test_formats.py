"""Format readers: happy paths and one test per kind of bad input (path:line in messages)."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest

from labelwise.data import DataError, detect_format, iter_texts, read_examples
from labelwise.registry import FORMATS

STAGED = Path(__file__).resolve().parents[2] / "../shared/data"


def write(path: Path, content: str | bytes, gz: bool = False) -> Path:
    data = content.encode("utf-8") if isinstance(content, str) else content
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def jsonl(*records: object) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def raises_at(path: Path, line: int, *words: str, **kwargs: object) -> DataError:
    with pytest.raises(DataError) as info:
        read_examples(path, **kwargs)  # type: ignore[arg-type]
    msg = str(info.value)
    assert f"{path}:{line}:" in msg, msg
    for w in words:
        assert w in msg, msg
    assert info.value.path == str(path) and info.value.line == line
    return info.value


GOOD = jsonl({"text": "hello world", "labels": ["a", "b"]}, {"text": "bye", "labels": []})


@pytest.mark.parametrize("gz", [False, True])
def test_jsonl_reads_plain_and_gzip(tmp_path: Path, gz: bool) -> None:
    path = write(tmp_path / ("d.jsonl.gz" if gz else "d.jsonl"), "\n" + GOOD, gz)
    exs = read_examples(path)
    assert [(e.text, e.labels) for e in exs] == [("hello world", ("a", "b")), ("bye", ())]
    assert exs[0].source == f"{path}:2"  # the blank first line is skipped but counted


def test_gzip_detected_by_content_and_fake_gz_rejected(tmp_path: Path) -> None:
    hidden = write(tmp_path / "d.jsonl", GOOD, gz=True)
    assert len(read_examples(hidden)) == 2
    fake = write(tmp_path / "d.jsonl.gz", GOOD)
    with pytest.raises(DataError, match="not gzip"):
        read_examples(fake)


def test_int_labels_become_strings(tmp_path: Path) -> None:
    path = write(tmp_path / "d.jsonl", jsonl({"text": "x", "labels": [3, "7"]}))
    assert read_examples(path)[0].labels == ("3", "7")


def test_malformed_json(tmp_path: Path) -> None:
    path = write(tmp_path / "d.jsonl", GOOD + '{"text": "x", "labels": [\n')
    raises_at(path, 3, "malformed JSON", '"labels"')


def test_line_not_an_object(tmp_path: Path) -> None:
    path = write(tmp_path / "d.jsonl", '["x", ["a"]]\n')
    raises_at(path, 1, "expected a JSON object, got an array")


def test_missing_text(tmp_path: Path) -> None:
    path = write(tmp_path / "d.jsonl", GOOD + jsonl({"body": "x", "labels": ["a"]}))
    raises_at(path, 3, "missing key 'text'", "body")


def test_missing_labels_error_unless_optional(tmp_path: Path) -> None:
    path = write(tmp_path / "d.jsonl", jsonl({"text": "x"}, {"text": "y", "label": ["a"]}))
    raises_at(path, 1, "missing key 'labels'", "[]")
    assert [e.labels for e in read_examples(path, require_labels=False)] == [(), ()]
    path2 = write(tmp_path / "e.jsonl", jsonl({"text": "y", "label": ["a"]}))
    raises_at(path2, 1, "Rename 'label' to 'labels'")


@pytest.mark.parametrize("text", ["", "   \t "])
def test_empty_text(tmp_path: Path, text: str) -> None:
    path = write(tmp_path / "d.jsonl", jsonl({"text": text, "labels": ["a"]}))
    raises_at(path, 1, "'text' is empty")


def test_text_wrong_type(tmp_path: Path) -> None:
    path = write(tmp_path / "d.jsonl", jsonl({"text": 5, "labels": ["a"]}))
    raises_at(path, 1, "'text' must be a string, got an integer")


def test_labels_as_plain_string_suggests_list(tmp_path: Path) -> None:
    path = write(tmp_path / "d.jsonl", jsonl({"text": "x", "labels": "sports"}))
    raises_at(path, 1, "'labels' is a string", '"labels": ["sports"]')


@pytest.mark.parametrize(
    ("labels", "word"),
    [
        ({"a": 1}, "got an object"),
        (1.5, "got a number"),
        (["a", 2.5], "2.5 is a number"),
        ([None], "None is null"),
        ([True], "a boolean"),
        ([""], "empty string"),
    ],
)
def test_labels_wrong_type(tmp_path: Path, labels: object, word: str) -> None:
    path = write(tmp_path / "d.jsonl", GOOD + jsonl({"text": "x", "labels": labels}))
    raises_at(path, 3, word)


def test_duplicate_labels(tmp_path: Path) -> None:
    path = write(tmp_path / "d.jsonl", jsonl({"text": "x", "labels": ["a", "b", "a"]}))
    raises_at(path, 1, "duplicate label 'a'", "once")


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    bad = GOOD.encode() + b'{"text": "caf\xe9", "labels": []}\n'
    for gz in (False, True):
        path = write(tmp_path / f"d{gz}.jsonl", bad, gz)
        raises_at(path, 3, "invalid UTF-8", "0xe9", "iconv")


def test_utf8_bom_accepted(tmp_path: Path) -> None:
    path = write(tmp_path / "d.jsonl", b"\xef\xbb\xbf" + GOOD.encode())
    assert len(read_examples(path)) == 2


def test_truncated_gzip(tmp_path: Path) -> None:
    data = gzip.compress(("".join([GOOD] * 2000)).encode())
    path = write(tmp_path / "d.jsonl.gz", data[: len(data) // 2])
    with pytest.raises(DataError, match="truncated or corrupt") as info:
        read_examples(path)
    assert str(path) in str(info.value) and "gzip -t" in str(info.value)


def test_missing_file_points_to_data_show(tmp_path: Path) -> None:
    path = tmp_path / "nope.jsonl"
    with pytest.raises(DataError) as info:
        read_examples(path)
    assert str(path) in str(info.value) and "labelwise data show" in str(info.value)
    assert "--data-dir" in str(info.value)


CSV = 'text,labels,id\n"hello, world",a|b,1\n"two\nlines",c,2\nplain, a | ,3\n'


def test_csv_quotes_multiline_and_label_sep(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", CSV)
    exs = read_examples(path)
    assert [(e.text, e.labels) for e in exs] == [
        ("hello, world", ("a", "b")),
        ("two\nlines", ("c",)),
        ("plain", ("a",)),
    ]
    assert [e.source for e in exs] == [f"{path}:2", f"{path}:3", f"{path}:5"]
    path2 = write(tmp_path / "e.csv", "text,labels\nx,a;b\n")
    assert read_examples(path2, label_sep=";")[0].labels == ("a", "b")


def test_csv_header_without_labels(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", "text,tags\nx,a\n")
    raises_at(path, 1, "no 'labels' column", "found: text, tags")
    assert read_examples(path, require_labels=False)[0].labels == ()


def test_csv_wrong_field_count_and_empty_text(tmp_path: Path) -> None:
    raises_at(write(tmp_path / "d.csv", "text,labels\nx,a\ny,b,c\n"), 3, "expected 2 fields")
    raises_at(write(tmp_path / "e.csv", "text,labels\nx,a\n  ,b\n"), 3, "'text' is empty")
    raises_at(write(tmp_path / "f.csv", "text,labels\nx,a|a\n"), 2, "duplicate label")


def test_tsv_reads_quotes_literally(tmp_path: Path) -> None:
    path = write(tmp_path / "d.tsv", 'id\ttext\tlabels\n1\t"quoted" start\tx|y\n')
    ex = read_examples(path)[0]
    assert (ex.text, ex.labels, ex.source) == ('"quoted" start', ("x", "y"), f"{path}:2")
    raises_at(write(tmp_path / "e.tsv", "text\tlabels\na\tb\tc\n"), 2, "contain tabs")


def test_libmultilabel(tmp_path: Path) -> None:
    path = write(tmp_path / "d.txt", "a b\tfirst doc\n\nid7\tc\tsecond doc\n")
    exs = read_examples(path)
    assert [(e.text, e.labels, e.source) for e in exs] == [
        ("first doc", ("a", "b"), f"{path}:1"),
        ("second doc", ("c",), f"{path}:3"),
    ]
    raises_at(write(tmp_path / "e.txt", "a\tb\tc\td\n"), 1, "4 tab-separated fields")
    raises_at(write(tmp_path / "f.txt", "a\tdoc\nno labels here\n"), 2, "1 tab-separated")


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("x.jsonl", "jsonl"),
        ("x.jsonl.gz", "jsonl"),
        ("x.json.gz", "jsonl"),
        ("x.CSV", "csv"),
        ("x.tsv.gz", "tsv"),
        ("x.txt", "libmultilabel"),
    ],
)
def test_detect_format(name: str, fmt: str) -> None:
    assert detect_format(name) == fmt


def test_unknown_suffix_and_explicit_format(tmp_path: Path) -> None:
    path = write(tmp_path / "d.data", GOOD)
    with pytest.raises(DataError, match=r"suffix '\.data'.*format="):
        read_examples(path)
    assert len(read_examples(path, format="jsonl")) == 2
    assert {"jsonl", "csv", "tsv", "libmultilabel"} <= set(FORMATS.names())


def test_iter_texts(tmp_path: Path) -> None:
    plain = write(tmp_path / "in.txt", "first\n\nsecond\tpart\n")
    assert list(iter_texts(plain)) == ["first", "second\tpart"]
    js = write(tmp_path / "in.jsonl.gz", jsonl({"text": "a"}, {"text": "b", "labels": ["x"]}), True)
    assert list(iter_texts(js)) == ["a", "b"]
    assert list(iter_texts(write(tmp_path / "in.csv", "text\nc\n"))) == ["c"]


def test_iter_texts_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("one\n\ntwo\r\n"))
    assert list(iter_texts("-")) == ["one", "two"]


@pytest.mark.skipif(not (STAGED / "goemotions").is_dir(), reason="staged data not present")
def test_real_goemotions_valid() -> None:
    exs = read_examples(STAGED / "goemotions" / "valid.jsonl.gz")
    assert len(exs) == 5426
    assert len({label for e in exs for label in e.labels}) == 28


def test_prediction_input_in_libmultilabel_text_is_read_without_its_labels(tmp_path: Path, capsys) -> None:
    """`evaluate` reads a .txt as labels<TAB>text; `predict` on the same file predicts its
    texts (not 'label<TAB>text' as one document) and says so; plain text stays plain."""
    labelled = tmp_path / "test.txt"
    labelled.write_text("pos\ta good movie\n\nneg bad\tdull film\n7\tpos\tfine\n", encoding="utf-8")
    assert list(iter_texts(labelled)) == ["a good movie", "dull film", "fine"]
    assert "reads as LibMultiLabel text" in capsys.readouterr().err
    plain = tmp_path / "plain.txt"
    plain.write_text("a good movie\nwith a\ttab inside\n", encoding="utf-8")
    assert list(iter_texts(plain)) == ["a good movie", "with a\ttab inside"]
    assert capsys.readouterr().err == ""
