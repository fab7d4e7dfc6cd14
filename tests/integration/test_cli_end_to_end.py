"""Tiny end-to-end runs through the CLI for each task type: train, evaluate, predict,
and reloading the run gives identical predictions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from labelwise import TextClassifier
from labelwise.cli import main

WORDS = {
    "sports": ["goal", "match", "team", "score", "league"],
    "politics": ["vote", "senate", "law", "election", "party"],
    "science": ["atom", "physics", "cell", "theory", "lab"],
}
PARENT = {"sports": "leisure", "politics": "society", "science": "society"}


def _docs(n: int, multilabel: bool, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    names = list(WORDS)
    out = []
    for _ in range(n):
        k = rng.integers(1, 3) if multilabel else 1
        labels = list(rng.choice(names, size=k, replace=False))
        words = [w for lab in labels for w in rng.choice(WORDS[lab], size=4)]
        words += list(rng.choice(["the", "a", "today", "news"], size=2))
        rng.shuffle(words)
        out.append({"text": " ".join(words), "labels": labels})
    return out


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


TINY = [
    "model.encoder={name: cnn, embed_dim: 16, num_filters: 8, kernel_sizes: [2]}",
    "tokenizer.vocab_size=200",
    "tokenizer.max_length=32",
    "train.epochs=8",
    "train.batch_size=16",
    "train.lr=0.01",
    "train.progress=false",
    "train.tensorboard=false",
]


@pytest.mark.parametrize("task", ["multiclass", "multilabel", "hierarchical"])
def test_cli_train_evaluate_predict_reload(tmp_path: Path, task: str, capsys) -> None:
    multilabel = task == "multilabel"
    train = _write(tmp_path / "train.jsonl", _docs(120, multilabel, 0))
    valid = _write(tmp_path / "valid.jsonl", _docs(30, multilabel, 1))
    test = _write(tmp_path / "test.jsonl", _docs(30, multilabel, 2))
    args = ["train", "--output", str(tmp_path / "run"),
            "--set", f"data.train={train}", "--set", f"data.valid={valid}",
            "--set", f"data.test={test}", "--set", f"task={task}"]
    if task == "hierarchical":
        hier = tmp_path / "hier.tsv"
        rows = ["ROOT\tleisure", "ROOT\tsociety"] + [f"{p}\t{c}" for c, p in PARENT.items()]
        hier.write_text("\n".join(rows) + "\n", encoding="utf-8")
        args += ["--set", f"data.hierarchy={hier}"]
    for ov in TINY:
        args += ["--set", ov]
    assert main(args) == 0
    run = tmp_path / "run"
    for name in ["config.yaml", "labels.json", "model.safetensors", "tokenizer.json",
                 "metrics.json", "decode.json", "trainer_state.json", "run.json"]:
        assert (run / name).is_file(), name
    assert not list(run.glob("*.pkl"))
    metrics = json.loads((run / "metrics.json").read_text())
    key = "accuracy" if task == "multiclass" else "micro_f1"
    assert metrics["test"][key] > 0.6, metrics["test"]
    if task == "hierarchical":
        assert "level1_accuracy" in metrics["test"]

    capsys.readouterr()
    assert main(["evaluate", str(run), "--data", str(test)]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated[key] == pytest.approx(metrics["test"][key], abs=1e-6)

    texts = tmp_path / "texts.txt"
    texts.write_text("goal match team score\nvote senate law election\n", encoding="utf-8")
    out = tmp_path / "pred.jsonl"
    assert main(["predict", str(run), str(texts), "-o", str(out)]) == 0
    preds = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(preds) == 2 and all("labels" in p and "top_k" in p for p in preds)
    assert "sports" in preds[0]["labels"] and "politics" in preds[1]["labels"]
    if task == "hierarchical":  # consistent with the tree: a child implies its parent
        assert "leisure" in preds[0]["labels"] and "society" in preds[1]["labels"]

    reloaded = TextClassifier.load(run)
    scores = reloaded.predict_proba(["goal match team score"])[0]
    for label, value in preds[0]["top_k"]:
        assert scores[reloaded.classes_.index(label)] == pytest.approx(value, abs=1e-6)


def test_metrics_count_the_documents_trained_on(tmp_path: Path) -> None:
    """Without a validation split one is carved from the training file: metrics.json says
    how many documents trained (as labels.json does) and how many validated."""
    train = _write(tmp_path / "train.jsonl", _docs(120, False, 0))
    run = tmp_path / "run"
    assert main(["train", "--output", str(run), "--set", f"data.train={train}", "--set", "model.type=linear",
                 "--set", "data.valid_fraction=0.25"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    labels = json.loads((run / "labels.json").read_text())
    assert (metrics["num_train"], metrics["num_valid"]) == (90, 30)
    assert labels["num_train_docs"] == 90
