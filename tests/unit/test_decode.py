from __future__ import annotations

import numpy as np
import torch

from labelwise import decode as dec

# two top-level nodes (0, 1); children 2, 3 under 1 and 4 under 0
LEVELS = [[0, 1], [2, 3, 4]]
PARENT = [-1, -1, 1, 1, 0]


def test_best_path_prefers_confident_leaf_over_greedy() -> None:
    # level 1 slightly prefers node 1, but node 0's only child is certain
    scores = np.array([[0.45, 0.55, 0.34, 0.33, 0.99]])
    pred = dec.best_path(scores, LEVELS, PARENT)
    assert pred[0].tolist() == [True, False, False, False, True]


def test_best_path_marks_one_node_per_level() -> None:
    rng = np.random.default_rng(0)
    scores = dec.level_softmax(rng.normal(size=(50, 5)), LEVELS)
    pred = dec.best_path(scores, LEVELS, PARENT)
    assert (pred[:, [0, 1]].sum(1) == 1).all() and (pred[:, [2, 3, 4]].sum(1) == 1).all()
    child = pred[:, 2:].argmax(1) + 2
    assert (pred[np.arange(50), np.asarray(PARENT)[child]]).all()


def test_cap_by_parent_is_consistent() -> None:
    rng = np.random.default_rng(1)
    s = dec.cap_by_parent(rng.random((40, 5)), LEVELS, PARENT)
    par = np.asarray(PARENT)
    for c in (2, 3, 4):
        assert (s[:, c] <= s[:, par[c]]).all()
    pred = dec.apply_threshold(s, 0.3)
    for c in (2, 3, 4):
        assert not (pred[:, c] & ~pred[:, par[c]]).any()


def test_threshold_at_least_one_and_topk() -> None:
    s = np.array([[0.1, 0.2, 0.05], [0.9, 0.6, 0.1]])
    assert dec.apply_threshold(s, 0.5, at_least_one=True).tolist() == [[False, True, False], [True, True, False]]
    idx, vals = dec.top_k(s, 2)
    assert idx.tolist() == [[1, 0], [0, 1]] and vals[1].tolist() == [0.9, 0.6]


def test_threshold_tuning_finds_separating_value() -> None:
    scores = np.array([[0.9], [0.8], [0.3], [0.2]])
    y = np.array([[1], [1], [0], [0]])
    f1 = lambda p, t: float((p & t.astype(bool)).sum() * 2 / (p.sum() + t.sum()))  # noqa: E731
    t = dec.tune_global_threshold(scores, y, f1)
    assert 0.3 < t <= 0.8
    per = dec.tune_per_label_thresholds(scores, y, fallback=0.5, min_support=1)
    assert 0.3 < per[0] <= 0.8


def test_pool_chunks_takes_max_per_document() -> None:
    logits = torch.tensor([[1.0, 5.0], [3.0, 0.0], [2.0, 2.0]])
    doc = torch.tensor([0, 0, 1])
    out = dec.pool_chunks(logits, doc, 2)
    assert out.tolist() == [[3.0, 5.0], [2.0, 2.0]]
