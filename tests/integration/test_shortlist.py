"""Shortlists end to end (model.shortlist): training on positives and shortlisted labels,
prediction on the shortlist alone, the proposer saved in the run directory and exported
beside the ONNX graph."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from labelwise import TextClassifier
from labelwise.config import ConfigError
from labelwise.models.heads.label_attention import LabelAttentionHead
from labelwise.models.heads.label_subset import UNSCORED
from labelwise.types import Example
from tests.integration.test_plant_pipeline import CFG, LABELS, NUM_LABELS, TEXTS, _widths_seen

SIZE = 4
SHORTLISTED: dict[str, Any] = {
    **CFG,
    "model": {
        "encoder": CFG["model"]["encoder"],
        "head": {"name": "labelwise_attention", "attn_dim": 8, "label_chunk_size": 5},
        "shortlist": {"size": SIZE, "linear": {"tree": {"branching": 3, "leaf_size": 3}, "min_df": 1,
                                               "n_jobs": 1}},
    },
}
SHORTLISTED.pop("plant")


def _examples() -> list[Example]:
    return [Example(t, tuple(lab)) for t, lab in zip(TEXTS, LABELS, strict=True)]


def test_a_shortlist_trains_on_hard_negatives_and_scores_only_its_labels(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    seen = _widths_seen(monkeypatch, LabelAttentionHead)
    run = tmp_path / "run"
    clf = TextClassifier(SHORTLISTED).fit_examples(_examples(), run_dir=run)
    train_widths = [w for training, w in seen if training]
    # each batch of 8 scores its positives and its documents' 4 candidates, not all 12 labels
    assert train_widths and min(train_widths) >= SIZE and min(train_widths) < NUM_LABELS
    logits = clf.backend_.logits(TEXTS)
    cands = clf.backend_.shortlister.candidates(TEXTS)  # type: ignore[union-attr]
    shortlisted = np.zeros_like(logits, dtype=bool)
    np.put_along_axis(shortlisted, cands, True, axis=1)
    assert (logits[~shortlisted] == UNSCORED).all() and (logits[shortlisted] > UNSCORED).all()
    state = clf.backend_.train_state["shortlist"]  # type: ignore[union-attr]
    assert state["size"] == SIZE and 0.0 <= state["valid_recall"] <= 1.0
    assert (run / "shortlist" / "linear.json").is_file()
    again = TextClassifier.load(run)
    np.testing.assert_allclose(again.predict_proba(TEXTS), clf.predict_proba(TEXTS), rtol=1e-5, atol=1e-6)
    assert again.predict(TEXTS[:5]) == clf.predict(TEXTS[:5])


def test_evaluation_lines_do_not_wrap_outside_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    """Four multi-label metrics make a line longer than 80 columns; in a log file it stays
    one line."""
    TextClassifier(SHORTLISTED).fit_examples(_examples())
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("step ")]
    assert lines and all(line.endswith(("(best)", tuple("0123456789"))) for line in lines)
    assert all("micro_recall" in line for line in lines) and max(map(len, lines)) > 80


def test_a_shortlist_is_refused_for_a_multiclass_task() -> None:
    cfg = {**SHORTLISTED, "task": "multiclass"}
    with pytest.raises(ConfigError, match="model.shortlist"):
        TextClassifier(cfg).fit(TEXTS, [lab[:1] for lab in LABELS])


def test_a_missing_proposer_is_a_clear_error(tmp_path: Path) -> None:
    run = tmp_path / "run"
    TextClassifier(SHORTLISTED).fit_examples(_examples(), run_dir=run)
    for f in (run / "shortlist").iterdir():
        f.unlink()
    with pytest.raises(Exception, match="shortlist"):
        TextClassifier.load(run)


def test_the_onnx_export_keeps_the_shortlist(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from labelwise.export import OnnxPredictor, export_onnx

    run = tmp_path / "run"
    clf = TextClassifier(SHORTLISTED).fit_examples(_examples(), run_dir=run)
    export_onnx(run, tmp_path / "onnx")
    assert (tmp_path / "onnx" / "shortlist" / "linear.safetensors").is_file()
    onnx = OnnxPredictor(tmp_path / "onnx")
    np.testing.assert_allclose(onnx.logits(TEXTS), clf.backend_.logits(TEXTS), atol=1e-4)
    assert onnx.predict(TEXTS) == clf.predict(TEXTS)
