"""`labelwise list` and `labelwise data`, and the extreme / per-label-threshold paths."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from labelwise import TextClassifier
from labelwise.cli import main
from labelwise.data.catalog import resolve_data_dir


def test_list_shows_every_registry(capsys) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ["cnn", "bilstm", "transformer", "pretrained", "labelwise_attention",
                 "focal", "asl", "p@k", "jsonl", "goemotions"]:
        assert name in out


def test_data_show_and_validate(capsys) -> None:
    try:
        data_dir = resolve_data_dir(None)
    except ValueError:
        pytest.skip("no staged data directory")
    if not (data_dir / "sst2").is_dir():
        pytest.skip("sst2 is not staged")
    assert main(["data", "show", "sst2", "--data-dir", str(data_dir)]) == 0
    assert "sst2" in capsys.readouterr().out
    assert main(["data", "validate", "sst2", "--data-dir", str(data_dir)]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True


def test_data_fetch_without_mirror_explains(capsys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("LABELWISE_DATA_MIRROR", raising=False)
    assert main(["data", "fetch", "sst2", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--base-url" in err or "mirror" in err


def test_extreme_task_with_label_attention_and_ranking() -> None:
    rng = np.random.default_rng(0)
    num_labels = 1200
    texts, labels = [], []
    for ls in rng.permutation(num_labels).reshape(-1, 3):  # every label used once
        texts.append(" ".join(f"w{i}" for i in ls) + " filler text")
        labels.append([f"L{i}" for i in ls])
    cfg = {
        "model": {"encoder": {"name": "cnn", "embed_dim": 16, "num_filters": 8, "kernel_sizes": [1]},
                  "head": {"name": "labelwise_attention", "attn_dim": 8, "label_chunk_size": 256}},
        "tokenizer": {"vocab_size": 2000, "min_frequency": 1, "max_length": 16},
        "train": {"epochs": 1, "batch_size": 32, "progress": False, "tensorboard": False},
    }
    clf = TextClassifier(cfg).fit(texts, labels)
    assert clf.task_.value == "extreme"
    metrics = clf.evaluate(texts[:50], labels[:50])
    assert {"p@1", "p@5", "ndcg@5", "psp@5"} <= set(metrics)
    assert all(0.0 <= metrics[k] <= 1.0 for k in ("p@1", "p@5", "ndcg@5"))


def test_per_label_thresholds_are_tuned() -> None:
    texts = ["red", "blue", "red blue", "green", "blue green"] * 12
    labels = [["r"], ["b"], ["r", "b"], ["g"], ["b", "g"]] * 12
    clf = TextClassifier({"model": {"type": "linear"}, "decode": {"tune_threshold": "per_label"}})
    clf.fit(texts, labels)
    assert isinstance(clf.threshold_, np.ndarray) and clf.threshold_.shape == (3,)
    assert set(clf.predict(["red blue"])[0]) == {"r", "b"}


def test_predict_resumes_without_repeating_or_losing_lines(tmp_path: Path, monkeypatch) -> None:
    """Kill prediction after two batches (and leave half a record), resume: the output is
    the uninterrupted one, line for line."""
    import labelwise.predict as pred
    from labelwise import TextClassifier
    from labelwise.types import Example

    run = tmp_path / "run"
    TextClassifier({"model": {"encoder": {"name": "cnn", "embed_dim": 8, "num_filters": 4, "kernel_sizes": [2]}},
                    "tokenizer": {"vocab_size": 100, "max_length": 8},
                    "train": {"epochs": 1, "progress": False, "tensorboard": False}}).fit_examples(
        [Example(t, (lab,)) for t, lab in [("good fine", "pos"), ("bad poor", "neg")] * 6], run_dir=run)
    inp = tmp_path / "in.txt"
    inp.write_text("".join(f"text number {i} good\n" if i % 2 else f"bad {i}\n" for i in range(23)))
    full = tmp_path / "full.jsonl"
    assert pred.predict_file(run, inp, full, batch_size=5) == 23

    original, calls = pred.prediction_records, {"n": 0}

    def dies_on_third(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    cut = tmp_path / "cut.jsonl"
    monkeypatch.setattr(pred, "prediction_records", dies_on_third)
    with pytest.raises(KeyboardInterrupt):
        pred.predict_file(run, inp, cut, batch_size=5)
    monkeypatch.setattr(pred, "prediction_records", original)
    with open(cut, "a", encoding="utf-8") as f:
        f.write('{"text": "half a rec')  # as if killed mid-write
    with pytest.raises(ValueError, match="written with --top-k 2, and this run asks for 1"):
        pred.predict_file(run, inp, cut, k=1, batch_size=5, resume=True)  # two labels: top 2 by default
    assert pred.predict_file(run, inp, cut, batch_size=5, resume=True) == 13
    assert cut.read_text() == full.read_text()
