"""Abstaining in multi-class tasks (decode.abstain): the thresholds, the decisions and the
in-scope / out-of-scope metrics."""

from __future__ import annotations

import numpy as np
import pytest

from labelwise import decode as dec
from labelwise.config import DecodeConfig
from labelwise.data.labels import LabelSpace
from labelwise.tasks import make_task
from labelwise.types import Example, Task


def _labels(names: list[str]) -> LabelSpace:
    return LabelSpace.fit([Example("x", (n,)) for n in names], Task.MULTICLASS)


def test_coverage_threshold_answers_that_share() -> None:
    conf = np.linspace(0.3, 1.0, 101)
    t = dec.coverage_threshold(conf, 0.9)
    assert np.mean(conf >= t) == pytest.approx(0.9, abs=0.011)
    assert dec.coverage_threshold(conf, 1.0) == 0.0
    with pytest.raises(ValueError, match="coverage"):
        dec.coverage_threshold(conf, 0.0)


def test_reject_threshold_trades_answers_for_out_of_scope_calls() -> None:
    conf = np.array([0.9, 0.8, 0.7, 0.35, 0.3, 0.6])
    correct = np.array([True, True, False, False, False, True])
    out_of_scope = np.array([False, False, False, True, True, False])
    t = dec.tune_reject_threshold(conf, correct, out_of_scope)
    assert 0.35 < t <= 0.6  # both out-of-scope texts called so, every right answer kept
    assert dec.tune_reject_threshold(conf, np.ones(6, bool), np.zeros(6, bool)) == 0.0


def test_coverage_mode_abstains_and_reports_in_and_out_of_scope() -> None:
    task = make_task(_labels(["a", "b", "c"]), DecodeConfig(abstain="coverage", coverage=0.75))
    valid = np.array([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.4, 0.35, 0.25]])
    task.tune(valid, np.eye(3)[[0, 1, 2, 0]], lambda *a: 0.0)
    decisions = task.decide(valid)
    assert decisions.sum(1).tolist() == [1, 1, 1, 0]  # the least confident quarter abstains
    assert task.label_names(decisions) == ["a", "b", "c", None]
    y = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0]], dtype=np.float32)  # the last: unseen class
    assert task.extra_metrics(decisions, y) == {"answered": 0.75, "in_scope_accuracy": 1.0,
                                                "out_of_scope_recall": 1.0}
    again = make_task(_labels(["a", "b", "c"]), DecodeConfig(abstain="coverage"))
    again.load_state(task.state())
    assert np.array_equal(again.decide(valid), decisions)


def test_out_of_scope_mode_calls_low_confidence_texts_by_the_label() -> None:
    task = make_task(_labels(["a", "b", "oos"]), DecodeConfig(abstain="out_of_scope", out_of_scope_label="oos"))
    scores = np.array([[0.8, 0.1, 0.1], [0.45, 0.4, 0.15], [0.1, 0.85, 0.05], [0.4, 0.35, 0.25]])
    y = np.eye(3)[[0, 2, 1, 2]]  # texts 1 and 3 are out of scope, yet argmax says a
    task.tune(scores, y, lambda *a: 0.0)
    assert task.label_names(task.decide(scores)) == ["a", "oos", "b", "oos"]
    assert task.extra_metrics(task.decide(scores), y)["out_of_scope_recall"] == 1.0
    plain = make_task(_labels(["a", "b", "oos"]), DecodeConfig())
    assert plain.extra_metrics(plain.decide(scores), y) == {}  # every text is of a class
    bad = make_task(_labels(["a", "b"]), DecodeConfig(abstain="out_of_scope", out_of_scope_label="oos"))
    with pytest.raises(ValueError, match="not a class of the training data"):
        bad.tune(scores[:, :2], np.eye(2)[[0, 1, 1, 0]], lambda *a: 0.0)


def test_abstaining_is_for_multiclass_and_needs_its_label() -> None:
    with pytest.raises(ValueError, match="needs decode.out_of_scope_label"):
        DecodeConfig(abstain="out_of_scope")
    multi = LabelSpace.fit([Example("x", ("a", "b"))], Task.MULTILABEL)
    with pytest.raises(ValueError, match="for multi-class tasks"):
        make_task(multi, DecodeConfig(abstain="coverage"))
