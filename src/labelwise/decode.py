"""From logits to scores to label decisions, per task. Pure functions.

- multi-class: softmax, argmax.
- multi-label / extreme: sigmoid, a global or per-label threshold (tuned on validation),
  optionally at least one label per document.
- hierarchical: per-level outputs that agree with the tree. With exclusive levels (one node
  per level per document) each level is a softmax and decoding picks the most probable
  root-to-leaf path. Otherwise scores are sigmoids capped by the parent's
  score, so a node can never be predicted without its parent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from labelwise.metrics.functional import per_label_f1


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    z = x - x.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def level_softmax(logits: np.ndarray, levels: Sequence[Sequence[int]]) -> np.ndarray:
    """Softmax within each level's columns. (N, L) -> (N, L)."""
    out = np.zeros_like(logits, dtype=np.float64)
    for cols in levels:
        idx = np.asarray(cols)
        out[:, idx] = softmax(logits[:, idx].astype(np.float64))
    return out.astype(np.float32)


def cap_by_parent(scores: np.ndarray, levels: Sequence[Sequence[int]], parent: Sequence[int]) -> np.ndarray:
    """score(node) = min(score(node), score(parent)), applied top-down. (N, L) -> (N, L)."""
    out = scores.copy()
    par = np.asarray(parent)
    for cols in levels[1:]:
        idx = np.asarray(cols)
        has = par[idx] >= 0
        out[:, idx[has]] = np.minimum(out[:, idx[has]], out[:, par[idx[has]]])
    return out


def best_path(scores: np.ndarray, levels: Sequence[Sequence[int]], parent: Sequence[int]) -> np.ndarray:
    """Exclusive hierarchies: the root-to-leaf path with the highest mean log-probability
    per level (the mean keeps paths of different depths comparable). Unlike a greedy
    top-down walk, a confident leaf can overrule an unsure decision above it.
    Returns (N, L) bool marking every node on the chosen path."""
    n, num = scores.shape
    par = np.asarray(parent)
    logp = np.log(np.clip(scores.astype(np.float64), 1e-12, 1.0))
    cum = np.zeros_like(logp)
    depth = np.zeros(num)
    for d, cols in enumerate(levels):
        idx = np.asarray(cols)
        above = np.where(par[idx] >= 0, par[idx], 0)
        cum[:, idx] = logp[:, idx] + np.where(par[idx] >= 0, cum[:, above], 0.0)
        depth[idx] = d + 1
    has_child = np.zeros(num, dtype=bool)
    has_child[par[par >= 0]] = True
    leaves = np.nonzero(~has_child)[0]
    node = leaves[np.argmax(cum[:, leaves] / depth[leaves], axis=1)]  # (N,)
    pred = np.zeros(scores.shape, dtype=bool)
    rows = np.arange(n)
    while True:
        live = node >= 0
        if not live.any():
            return pred
        pred[rows[live], node[live]] = True
        node = np.where(live, par[np.maximum(node, 0)], -1)


def apply_threshold(
    scores: np.ndarray, threshold: float | np.ndarray, at_least_one: bool = False
) -> np.ndarray:
    """(N, L) scores -> (N, L) bool. ``threshold`` is a scalar or one value per label."""
    pred = scores >= np.asarray(threshold, dtype=scores.dtype)
    if at_least_one and scores.shape[1] > 0:
        empty = ~pred.any(axis=1)
        pred[np.nonzero(empty)[0], scores[empty].argmax(axis=1)] = True
    return pred


def argmax_onehot(scores: np.ndarray) -> np.ndarray:
    pred = np.zeros(scores.shape, dtype=bool)
    pred[np.arange(scores.shape[0]), scores.argmax(axis=1)] = True
    return pred


def coverage_threshold(confidence: np.ndarray, coverage: float) -> float:
    """The confidence below which a share ``1 - coverage`` of ``confidence`` (N,) falls:
    abstaining below it answers ``coverage`` of texts like these."""
    if not 0 < coverage <= 1:
        raise ValueError(f"coverage must be in (0, 1], got {coverage}")
    if coverage == 1 or len(confidence) == 0:
        return 0.0
    return float(np.quantile(confidence.astype(np.float64), 1 - coverage))


def tune_reject_threshold(confidence: np.ndarray, correct_answer: np.ndarray, out_of_scope: np.ndarray,
                          steps: int = 50) -> float:
    """The confidence threshold that maximises accuracy when every text below it is called
    out of scope: ``correct_answer`` (N,) whether the model's answer is right, and
    ``out_of_scope`` (N,) whether the text is out of scope (then calling it so is right).
    Candidates: 0 (never) and the quantiles of ``confidence`` up to its median."""
    candidates = np.unique(np.concatenate([[0.0], np.quantile(confidence, np.linspace(0, 0.5, steps))]))
    best, best_acc = 0.0, -1.0
    for t in candidates:
        low = confidence < t
        acc = float(np.where(low, out_of_scope, correct_answer).mean())
        if acc > best_acc:
            best, best_acc = float(t), acc
    return best


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and scores of the k best labels per row, best first. (N, L) -> (N, k) x2."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-part_scores, axis=1, kind="stable")
    idx = np.take_along_axis(part, order, axis=1)
    return idx, np.take_along_axis(scores, idx, axis=1)


GRID = np.round(np.arange(0.05, 0.96, 0.05), 2)


def tune_global_threshold(
    scores: np.ndarray, targets: np.ndarray, metric: Callable[[np.ndarray, np.ndarray], float]
) -> float:
    """The grid threshold with the best ``metric(pred, targets)`` on validation data."""
    best_t, best_v = 0.5, -1.0
    for t in GRID:
        v = metric(scores >= t, targets)
        if v > best_v + 1e-12:
            best_t, best_v = float(t), v
    return best_t


def tune_per_label_thresholds(
    scores: np.ndarray, targets: np.ndarray, fallback: float, min_support: int = 5
) -> np.ndarray:
    """For each label the grid threshold that maximises its own F1 on validation data.
    Labels with fewer than ``min_support`` validation positives keep ``fallback``."""
    t_bool = targets.astype(bool)
    best_t = np.full(scores.shape[1], fallback, dtype=np.float32)
    best_f = np.full(scores.shape[1], -1.0)
    for t in GRID:
        f, support = per_label_f1(scores >= t, t_bool)
        better = f > best_f + 1e-12
        best_t[better], best_f[better] = t, f[better]
    best_t[support < min_support] = fallback
    return best_t


def pool_chunks(logits: torch.Tensor, doc_index: torch.Tensor | None, num_docs: int) -> torch.Tensor:
    """Chunk rows (R, L) -> documents (B, L) by the max over each document's chunks."""
    if doc_index is None:
        return logits
    out = torch.full((num_docs, logits.shape[1]), float("-inf"), dtype=logits.dtype, device=logits.device)
    idx = doc_index[:, None].expand_as(logits)  # (R, L)
    return out.scatter_reduce(0, idx, logits, reduce="amax", include_self=True)
