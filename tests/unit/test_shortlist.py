"""Shortlists: the linear model's top labels, their recall, and masking full scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from labelwise.config import ShortlistConfig
from labelwise.linear import TfidfLinear
from labelwise.models.heads.label_subset import UNSCORED
from labelwise.shortlist import Shortlister, keep_candidates, recall
from tests.unit.test_linear_tree import _texts  # label j is spelled out by word wj


@pytest.mark.parametrize("tree", [None, {"branching": 3, "leaf_size": 4, "beam": 2, "prune": 0.0}])
def test_top_labels_are_the_highest_scores_best_first(tree: dict | None) -> None:
    texts, Y = _texts()
    clf = TfidfLinear(C=1.0, ngram_range=(1, 1), min_df=1, n_jobs=1, tree=tree).fit(texts, Y, "extreme")
    scores = clf.decision_function(texts[:30])
    top = clf.top_labels(texts[:30], 5)
    assert top.shape == (30, 5) and top.dtype == np.int64
    picked = np.take_along_axis(scores, top, axis=1)
    assert (np.diff(picked, axis=1) <= 0).all()  # best first
    np.testing.assert_array_equal(picked[:, -1], -np.sort(-scores, axis=1)[:, 4])  # the 5 best
    assert clf.top_labels(texts[:3], 100).shape == (3, 30)  # at most every label
    with pytest.raises(ValueError, match="k must be"):
        clf.top_labels(texts[:3], 0)


def test_recall_counts_the_true_labels_a_shortlist_holds() -> None:
    targets = np.array([[1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 0]], dtype=np.float32)
    assert recall(np.array([[0, 1], [1, 3], [2, 3]]), targets) == pytest.approx(2 / 3)
    assert recall(np.array([[0], [1]]), np.zeros((2, 4))) == 1.0


def test_keep_candidates_masks_everything_else() -> None:
    logits = np.arange(12, dtype=np.float32).reshape(2, 6)
    out = keep_candidates(logits, np.array([[5, 1], [0, 2]]))
    expected = np.full_like(logits, UNSCORED)
    expected[0, [5, 1]] = [5, 1]
    expected[1, [0, 2]] = [6, 8]
    np.testing.assert_array_equal(out, expected)


def test_shortlister_fits_saves_and_loads_the_same_candidates(tmp_path: Path) -> None:
    texts, Y = _texts()
    cfg = ShortlistConfig(size=4, linear={"tree": {"branching": 3, "leaf_size": 4}, "min_df": 1, "n_jobs": 1})
    shortlister = Shortlister.fit(cfg, texts[:200], Y[:200], "multilabel")
    cands = shortlister.candidates(texts[200:])
    assert cands.shape == (40, 4) and shortlister.num_labels == 30
    assert recall(cands, Y[200:]) > 0.9  # the words name the labels
    shortlister.save(tmp_path / "s")
    np.testing.assert_array_equal(Shortlister.load(tmp_path / "s", 4).candidates(texts[200:]), cands)
    with pytest.raises(ValueError, match="multi-label, hierarchical and extreme"):
        Shortlister.fit(cfg, texts, np.eye(30, dtype=np.float32)[Y.argmax(1)], "multiclass")
