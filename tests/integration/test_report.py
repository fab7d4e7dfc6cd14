"""labelwise report and the model card: one self-contained page per run (metrics, per-label
table, plots as embedded PNGs), and README.md in every run directory."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from labelwise import TextClassifier
from labelwise.report import reliability
from labelwise.types import Example
from tests.integration.test_plant_pipeline import LABELS, TEXTS


def _write(path: Path, texts: list[str], labels: list[list[str]]) -> Path:
    path.write_text("".join(json.dumps({"text": t, "labels": y}) + "\n" for t, y in zip(texts, labels, strict=True)))
    return path


@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
def test_report_page_and_model_card(task: str, tmp_path: Path) -> None:
    from labelwise.cli import main

    labels = [y[:1] for y in LABELS] if task == "multiclass" else LABELS
    data = _write(tmp_path / "train.jsonl", TEXTS, labels)
    run = tmp_path / "run"
    assert main(["train", "-o", str(run), "--set", f"data.train={data}", "--set", f"data.test={data}",
                 "--set", f"task={task}", "--set", "model.encoder={name: cnn, embed_dim: 8, num_filters: 4}",
                 "--set", "tokenizer.vocab_size=150", "--set", "train.epochs=3", "--set", "train.progress=false"]) == 0
    card = (run / "README.md").read_text()
    assert "## Metrics" in card and "| test |" in card.replace("| valid | test |", "| test |") and "## Limitations" in card
    assert main(["report", str(run), "--data", str(data)]) == 0
    page = (run / "report.html").read_text()
    assert page.count("<img") == 4 and page.count("data:image/png;base64,") == 4  # learning curves included
    assert ("Confusion matrix" in page) == (task == "multiclass") and "Per label" in page
    assert "http" not in page.replace("http-equiv", "")  # nothing fetched


def test_a_saved_estimator_gets_a_card_too(tmp_path: Path) -> None:
    clf = TextClassifier({"model": {"type": "linear", "linear": {"min_df": 1}}})
    clf.fit_examples([Example(t, tuple(y[:1])) for t, y in zip(TEXTS, LABELS, strict=True)])
    clf.save(tmp_path / "saved")
    card = (tmp_path / "saved" / "README.md").read_text()
    assert "TF-IDF linear model" in card and "No metrics were recorded" in card


def test_reliability_bins_compare_scores_with_outcomes() -> None:
    scores = np.array([[0.95, 0.05], [0.9, 0.1], [0.55, 0.45], [0.6, 0.4]])
    y = np.eye(2)[[0, 0, 1, 0]]
    centres, mean, freq, count = reliability(scores, y, multiclass=True)
    assert count.tolist() == [1, 1, 2] and freq.tolist() == [0.0, 1.0, 1.0]  # 0.55 was wrong
    assert mean == pytest.approx([0.55, 0.6, 0.925]) and centres == pytest.approx([0.55, 0.65, 0.95])
