"""Bad input through the CLI: a clear error (what, where, how to fix), exit code 2, and an
existing run directory left exactly as it was."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from labelwise.cli import main

GOOD = [{"text": f"text number {i} about {'cats' if i % 2 else 'dogs'}",
         "labels": ["cat" if i % 2 else "dog"]} for i in range(24)]
TINY = ["--set", "model.encoder={name: cnn, embed_dim: 8, num_filters: 4, kernel_sizes: [2]}",
        "--set", "tokenizer.vocab_size=120", "--set", "train.epochs=1",
        "--set", "train.progress=false", "--set", "train.tensorboard=false"]


def _jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def _snapshot(d: Path) -> dict[str, str]:
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("run")
    train = _jsonl(tmp / "train.jsonl", GOOD)
    assert main(["train", "-o", str(tmp / "run"), "--set", f"data.train={train}", *TINY]) == 0
    return tmp / "run"


def _case_train(rows_or_writer: list | Callable[[Path], Path], *expected: str):
    def make(tmp: Path) -> tuple[list[str], tuple[str, ...]]:
        if callable(rows_or_writer):
            path = rows_or_writer(tmp)
        else:
            path = _jsonl(tmp / "bad.jsonl", rows_or_writer)
        return ["--set", f"data.train={path}"], expected
    return make


def _truncated_gz(tmp: Path) -> Path:
    data = gzip.compress(("".join(json.dumps(r) + "\n" for r in GOOD)).encode())
    p = tmp / "bad.jsonl.gz"
    p.write_bytes(data[: len(data) // 2])
    return p


def _bad_utf8(tmp: Path) -> Path:
    p = tmp / "bad.jsonl"
    p.write_bytes(b'{"text": "ok", "labels": ["a"]}\n{"text": "caf\xe9", "labels": ["a"]}\n')
    return p


def _huge_text(tmp: Path) -> Path:
    return _jsonl(tmp / "bad.jsonl", [GOOD[0], {"text": "word " * 2_000_000, "labels": ["a"]}])


def _hierarchy_case(lines: str, *expected: str):
    def make(tmp: Path) -> tuple[list[str], tuple[str, ...]]:
        train = _jsonl(tmp / "train.jsonl", [{"text": r["text"], "labels": ["pets", r["labels"][0]]}
                                             for r in GOOD])
        hier = tmp / "tree.tsv"
        hier.write_text(lines)
        return ["--set", f"data.train={train}", "--set", f"data.hierarchy={hier}",
                "--set", "task=hierarchical"], expected
    return make


CASES = {
    "10 MB text": _case_train(_huge_text, "bad.jsonl:2", "10,000,000 characters"),
    "hierarchy with a cycle": _hierarchy_case("pets\tcat\ncat\tdog\ndog\tpets\n", "tree.tsv", "cycle"),
    "label in two places": _hierarchy_case("pets\tcat\npets\tdog\ndog\tcat\n", "tree.tsv", "cat"),
    "missing file": lambda tmp: (["--set", f"data.train={tmp / 'nope.jsonl'}"], ("nope.jsonl",)),
    "malformed json": _case_train([GOOD[0], '{"text": "x", "labels": ['], "bad.jsonl:2"),
    "line is an array": _case_train([GOOD[0], '["a", "b"]'], "bad.jsonl:2"),
    "no text": _case_train([GOOD[0], {"labels": ["a"]}], "bad.jsonl:2", "text"),
    "no labels": _case_train([GOOD[0], {"text": "hello"}], "bad.jsonl:2", "labels"),
    "empty text": _case_train([GOOD[0], {"text": "   ", "labels": ["a"]}], "bad.jsonl:2"),
    "labels is a string": _case_train([GOOD[0], {"text": "x", "labels": "cat"}], "bad.jsonl:2", "list"),
    "duplicate labels": _case_train([GOOD[0], {"text": "x", "labels": ["a", "a"]}], "bad.jsonl:2"),
    "truncated gzip": _case_train(_truncated_gz, "bad.jsonl.gz"),
    "invalid utf-8": _case_train(_bad_utf8, "bad.jsonl:2", "UTF-8"),
    "empty file": _case_train([], "bad.jsonl"),
    "config typo": lambda tmp: (["--set", "train.epoch=3"], ("train.epoch", "epochs")),
    "bad config value": lambda tmp: (["--set", "train.lr=-1"], ("train.lr",)),
    "config wrong type": lambda tmp: (["--set", "train.epochs=many"], ("train.epochs", "integer")),
    "config names a python path": lambda tmp: (["--set", "model.encoder={name: os.system}"], ("os.system",)),
    "unknown encoder": lambda tmp: (["--set", "model.encoder={name: cnnn}"], ("cnnn", "cnn")),
    "encoder param typo": lambda tmp: (["--set", "model.encoder={name: cnn, kernel_size: 3}"], ("kernel_size",)),
    "missing config file": lambda tmp: (["--config", str(tmp / "missing.yaml")], ("missing.yaml",)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_training_input_leaves_run_intact(case: str, tmp_path: Path, trained_run: Path, capsys) -> None:
    before = _snapshot(trained_run)
    args, expected = CASES[case](tmp_path)
    train = _jsonl(tmp_path / "good.jsonl", GOOD)
    argv = ["train", "-o", str(trained_run), "--overwrite", "--set", f"data.train={train}", *TINY, *args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "error" in err
    for text in expected:
        assert text in err, f"{case}: expected {text!r} in: {err}"
    assert _snapshot(trained_run) == before


def test_unseen_label_policy_error_names_source(tmp_path: Path, capsys) -> None:
    train = _jsonl(tmp_path / "train.jsonl", GOOD)
    valid = _jsonl(tmp_path / "valid.jsonl", [GOOD[0], {"text": "a bird", "labels": ["bird"]}])
    argv = ["train", "-o", str(tmp_path / "r"), "--set", f"data.train={train}",
            "--set", f"data.valid={valid}", "--set", "data.unseen_labels=error", *TINY]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "valid.jsonl:2" in err and "bird" in err and "unseen_labels" in err
    assert not (tmp_path / "r").exists()


def test_existing_run_dir_is_not_overwritten(trained_run: Path, tmp_path: Path, capsys) -> None:
    before = _snapshot(trained_run)
    train = _jsonl(tmp_path / "t.jsonl", GOOD)
    assert main(["train", "-o", str(trained_run), "--set", f"data.train={train}", *TINY]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert _snapshot(trained_run) == before


def test_mismatched_checkpoint(trained_run: Path, tmp_path: Path, capsys) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(trained_run, broken)
    labels = json.loads((broken / "labels.json").read_text())
    labels["classes"].append("extra")
    labels["train_counts"].append(1)
    (broken / "labels.json").write_text(json.dumps(labels))
    texts = _jsonl(tmp_path / "in.jsonl", [{"text": "hello"}])
    assert main(["predict", str(broken), str(texts)]) == 3  # a damaged run directory
    err = capsys.readouterr().err
    assert "does not match" in err and "model.safetensors" in err


def test_other_format_version(trained_run: Path, tmp_path: Path, capsys) -> None:
    import shutil

    old = tmp_path / "old"
    shutil.copytree(trained_run, old)
    info = json.loads((old / "run.json").read_text())
    info["format_version"] = 99
    (old / "run.json").write_text(json.dumps(info))
    assert main(["evaluate", str(old), "--data", str(_jsonl(tmp_path / "e.jsonl", GOOD))]) == 3
    assert "format_version" in capsys.readouterr().err


def test_missing_weights(trained_run: Path, tmp_path: Path, capsys) -> None:
    import shutil

    gone = tmp_path / "gone"
    shutil.copytree(trained_run, gone)
    (gone / "model.safetensors").unlink()
    assert main(["predict", str(gone), str(_jsonl(tmp_path / "in.jsonl", [{"text": "x"}]))]) == 3
    assert "model.safetensors" in capsys.readouterr().err


def test_overwrite_replaces_old_run_files(trained_run: Path, tmp_path: Path) -> None:
    import shutil

    run = tmp_path / "again"
    shutil.copytree(trained_run, run)
    (run / "stale.txt").write_text("old")
    train = _jsonl(tmp_path / "t.jsonl", GOOD)
    assert main(["train", "-o", str(run), "--overwrite", "--set", f"data.train={train}", *TINY]) == 0
    assert not (run / "stale.txt").exists() and (run / "model.safetensors").is_file()


def test_overwrite_refuses_a_folder_that_is_not_a_run(tmp_path: Path, capsys) -> None:
    other = tmp_path / "notes"
    other.mkdir()
    (other / "thesis.tex").write_text("precious")
    train = _jsonl(tmp_path / "t.jsonl", GOOD)
    assert main(["train", "-o", str(other), "--overwrite", "--set", f"data.train={train}", *TINY]) == 2
    assert "not a labelwise run directory" in capsys.readouterr().err
    assert (other / "thesis.tex").read_text() == "precious"


def test_unseen_label_error_with_overwrite_keeps_old_run(trained_run: Path, tmp_path: Path) -> None:
    before = _snapshot(trained_run)
    train = _jsonl(tmp_path / "t.jsonl", GOOD)
    valid = _jsonl(tmp_path / "v.jsonl", [{"text": "a bird", "labels": ["bird"]}])
    argv = ["train", "-o", str(trained_run), "--overwrite", "--set", f"data.train={train}",
            "--set", f"data.valid={valid}", "--set", "data.unseen_labels=error", *TINY]
    assert main(argv) == 2
    assert _snapshot(trained_run) == before


def test_hierarchy_auto_needs_a_named_dataset(tmp_path: Path, capsys) -> None:
    train = _jsonl(tmp_path / "t.jsonl", GOOD)
    argv = ["train", "-o", str(tmp_path / "r"), "--set", f"data.train={train}",
            "--set", "data.hierarchy=auto", *TINY]
    assert main(argv) == 2
    assert "data.hierarchy" in capsys.readouterr().err


def test_run_files_follow_the_umask(tmp_path: Path) -> None:
    """Files of a run directory are created like any other file of the user's (before,
    mkstemp made every one 0600), and run.json records the weights' sha256."""
    import os
    import stat

    train = _jsonl(tmp_path / "train.jsonl", GOOD)
    old = os.umask(0o002)
    try:
        assert main(["train", "-o", str(tmp_path / "run"), "--set", f"data.train={train}", *TINY]) == 0
    finally:
        os.umask(old)
    modes = {stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "run").rglob("*") if p.is_file()}
    assert modes == {0o664}
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert set(info["sha256"]) == {"model.safetensors", "tokenizer.json"}
    assert info["sha256"]["model.safetensors"] == hashlib.sha256(
        (tmp_path / "run" / "model.safetensors").read_bytes()).hexdigest()
