"""Pure numpy functions for top-k ranking metrics, one value per document.

Each ``*_at_k`` function returns an (N,) float array of per-document scores; the metric over
a data set is the sum of these over documents divided by the number of documents.
Documents with no true label score 0 on every ranking metric (the LibMultiLabel
convention; the streaming classes can skip them instead, see ``skip_empty``).

The top k labels are found with ``np.argpartition`` (linear in L) and only those k are
sorted, so thousands of labels are cheap. Ties between equal scores are broken arbitrarily.
"""

from __future__ import annotations

import numpy as np

from labelwise.metrics.functional import safe_divide


def top_k_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the ``k`` highest scores of each row, best first.

    Args:
        scores: (N, L) float scores, higher = more likely.
        k: number of labels to keep; values above L keep all L.

    Returns:
        (N, min(k, L)) int array.
    """
    if k < 1:
        raise ValueError(f"k must be a positive integer, got {k}")
    n, num_labels = scores.shape
    k = min(k, num_labels)
    if k == 0 or n == 0:
        return np.zeros((n, k), dtype=np.intp)
    if k < num_labels:
        idx = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        idx = np.broadcast_to(np.arange(num_labels), (n, num_labels))
    top = np.take_along_axis(scores, idx, axis=1)
    order = np.argsort(-top, axis=1, kind="stable")
    return np.take_along_axis(idx, order, axis=1)


def ranked_hits(scores: np.ndarray, targets: np.ndarray, k: int) -> np.ndarray:
    """(N, min(k, L)) bool: whether the label at each of the top-k ranks is true."""
    return np.take_along_axis(np.asarray(targets, dtype=bool), top_k_indices(scores, k), axis=1)


def precision_from_hits(hits: np.ndarray, k: int) -> np.ndarray:
    """P@k per document: hits among the top k, divided by k."""
    return hits[:, :k].sum(axis=1) / float(k)


def recall_from_hits(hits: np.ndarray, k: int, n_true: np.ndarray) -> np.ndarray:
    """R@k per document: hits among the top k over the number of true labels (0 if none)."""
    return safe_divide(hits[:, :k].sum(axis=1), n_true)


def rprecision_from_hits(hits: np.ndarray, k: int, n_true: np.ndarray) -> np.ndarray:
    """R-Precision@k per document: hits in the top k over ``min(k, n_true)`` (0 if none)."""
    return safe_divide(hits[:, :k].sum(axis=1), np.minimum(k, n_true))


def ndcg_from_hits(hits: np.ndarray, k: int, n_true: np.ndarray) -> np.ndarray:
    """nDCG@k per document with binary relevance.

    DCG@k = sum over ranks i < k of rel_i / log2(i + 2); the ideal DCG ranks all true labels
    first, so it sums the first ``min(k, n_true)`` discounts. 0 for documents with no true
    label.
    """
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = hits[:, :k].astype(np.float64) @ discounts[: hits[:, :k].shape[1]]
    cum = np.concatenate([[0.0], np.cumsum(discounts)])
    ideal = cum[np.minimum(k, n_true)]
    return safe_divide(dcg, ideal)


def precision_at_k(scores: np.ndarray, targets: np.ndarray, k: int) -> np.ndarray:
    """P@k per document: (N,) fraction of the top-k labels that are true."""
    return precision_from_hits(ranked_hits(scores, targets, k), k)


def recall_at_k(scores: np.ndarray, targets: np.ndarray, k: int) -> np.ndarray:
    """R@k per document: (N,) fraction of the true labels found in the top k."""
    n_true = np.count_nonzero(targets, axis=1)
    return recall_from_hits(ranked_hits(scores, targets, k), k, n_true)


def rprecision_at_k(scores: np.ndarray, targets: np.ndarray, k: int) -> np.ndarray:
    """R-Precision@k per document: (N,) hits in the top k over ``min(k, n_true)``."""
    n_true = np.count_nonzero(targets, axis=1)
    return rprecision_from_hits(ranked_hits(scores, targets, k), k, n_true)


def ndcg_at_k(scores: np.ndarray, targets: np.ndarray, k: int) -> np.ndarray:
    """nDCG@k per document (binary relevance), see :func:`ndcg_from_hits`."""
    n_true = np.count_nonzero(targets, axis=1)
    return ndcg_from_hits(ranked_hits(scores, targets, k), k, n_true)


def inverse_propensity(
    train_label_counts: np.ndarray, num_train_docs: int, a: float = 0.55, b: float = 1.5
) -> np.ndarray:
    """Inverse label propensities 1 / p_l of Jain et al. (2016).

    p_l = 1 / (1 + C (N_l + B)^-A) with C = (ln N - 1) (B + 1)^A, where N_l is the number
    of training documents with label l and N the number of training documents.

    Returns:
        (L,) float array ``1 / p_l = 1 + C (N_l + B)^-A``; rare labels get larger weights.
    """
    counts = np.asarray(train_label_counts, dtype=np.float64)
    if counts.ndim != 1 or (counts < 0).any():
        raise ValueError(
            f"train_label_counts must be a 1-D array of non-negative counts, got shape "
            f"{counts.shape}; pass the number of training documents carrying each label"
        )
    if num_train_docs < 1:
        raise ValueError(f"num_train_docs must be a positive integer, got {num_train_docs}")
    c = (np.log(num_train_docs) - 1.0) * (b + 1.0) ** a
    return 1.0 + c * (counts + b) ** (-a)


def psp_parts(
    top_idx: np.ndarray, targets: np.ndarray, inv_prop: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-document PSP@k of a ranking and the best PSP@k any ranking could reach.

    PSP@k = (1/k) * sum of 1/p_l over the true labels among the top k. The best ranking puts
    the ``min(k, n_true)`` true labels with the largest 1/p_l first.

    Args:
        top_idx: (N, >=k) label indices ranked best first (from :func:`top_k_indices`).
        targets: (N, L) bool true labels.
        inv_prop: (L,) inverse propensities.
        k: cut-off.

    Returns:
        ``(psp, best)``: two (N,) float arrays.
    """
    idx = top_idx[:, :k]
    hits = np.take_along_axis(targets, idx, axis=1)
    psp = np.where(hits, inv_prop[idx], 0.0).sum(axis=1) / k
    rows, cols = np.nonzero(targets)
    vals = inv_prop[cols]
    order = np.lexsort((-vals, rows))
    rows, vals = rows[order], vals[order]
    rank = np.arange(rows.size) - np.searchsorted(rows, rows, side="left")
    keep = rank < k
    best = np.bincount(rows[keep], weights=vals[keep], minlength=targets.shape[0]) / k
    return psp, best


def psp_at_k(
    scores: np.ndarray, targets: np.ndarray, k: int, inv_prop: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-document ``(psp, best)`` PSP@k, see :func:`psp_parts`.

    The normalised PSP@k of a data set is ``psp.sum() / best.sum()`` (the convention of the
    Extreme Classification Repository tools): a ratio of sums, not a mean of ratios.
    """
    targets = np.asarray(targets, dtype=bool)
    return psp_parts(top_k_indices(scores, k), targets, np.asarray(inv_prop), k)
