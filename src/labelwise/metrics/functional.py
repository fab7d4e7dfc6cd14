"""Pure numpy functions for thresholded (decision-based) classification metrics.

All functions take boolean matrices of shape (N, L): ``preds`` (decided labels) and
``targets`` (true labels). Precision, recall and F1 are computed from per-label counts
(true positives, false positives, false negatives), so the same code serves one batch or
counts accumulated over a whole evaluation set.

Zero division: a ratio whose denominator is 0 is replaced by ``zero_division`` (0 by
default), as scikit-learn does with ``zero_division=0``. For F1 this means a label with no
true and no predicted instance scores 0 and still counts in the macro average unless the
average is restricted to labels present in the targets (``labels="present"``).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Average = Literal["micro", "macro"]
LabelSubset = Literal["all", "present"]


def safe_divide(num: np.ndarray, den: np.ndarray, zero_division: float = 0.0) -> np.ndarray:
    """Element-wise ``num / den`` with ``zero_division`` where ``den == 0``."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, float(zero_division))
    np.divide(num, den, out=out, where=den != 0)
    return out


def confusion_counts(preds: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per-label true positives, false positives and false negatives.

    Args:
        preds: (N, L) bool decided labels.
        targets: (N, L) bool true labels.

    Returns:
        ``(tp, fp, fn)``, each an int64 array of shape (L,).
    """
    tp = np.count_nonzero(preds & targets, axis=0).astype(np.int64)
    fp = np.count_nonzero(preds, axis=0).astype(np.int64) - tp
    fn = np.count_nonzero(targets, axis=0).astype(np.int64) - tp
    return tp, fp, fn


def per_label_scores(
    tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, zero_division: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-label precision, recall and F1 from counts; each an (L,) float array.

    F1 is ``2 tp / (2 tp + fp + fn)`` (equal to the harmonic mean of precision and recall
    whenever both are defined) and ``zero_division`` when ``tp + fp + fn == 0``.
    """
    precision = safe_divide(tp, tp + fp, zero_division)
    recall = safe_divide(tp, tp + fn, zero_division)
    f1 = safe_divide(2 * tp, 2 * tp + fp + fn, zero_division)
    return precision, recall, f1


def label_mask(tp: np.ndarray, fn: np.ndarray, labels: LabelSubset = "all") -> np.ndarray:
    """Boolean (L,) mask of the labels a macro average runs over.

    ``"all"`` keeps every label; ``"present"`` keeps labels with at least one true instance
    (support ``tp + fn > 0``).
    """
    if labels == "all":
        return np.ones(np.shape(tp), dtype=bool)
    if labels == "present":
        return (np.asarray(tp) + np.asarray(fn)) > 0
    raise ValueError(f"labels must be 'all' or 'present', got {labels!r}")


def precision_recall_f1(
    tp: np.ndarray,
    fp: np.ndarray,
    fn: np.ndarray,
    average: Average = "micro",
    labels: LabelSubset = "all",
    zero_division: float = 0.0,
) -> tuple[float, float, float]:
    """Averaged precision, recall and F1 from per-label counts.

    Args:
        tp: (L,) true positives per label. fp, fn: the same for false positives/negatives.
        average: ``"micro"`` pools the counts of all labels before dividing; ``"macro"``
            takes the unweighted mean of the per-label scores.
        labels: which labels a macro average runs over (``"all"`` or ``"present"``, see
            :func:`label_mask`); ignored for micro, where absent labels add no counts.
        zero_division: value of a ratio with a zero denominator.

    Returns:
        ``(precision, recall, f1)`` as floats. A macro average over an empty label set is
        ``zero_division``.
    """
    tp, fp, fn = (np.asarray(a, dtype=np.int64) for a in (tp, fp, fn))
    if average == "micro":
        p, r, f = per_label_scores(tp.sum(), fp.sum(), fn.sum(), zero_division)
        return float(p), float(r), float(f)
    if average != "macro":
        raise ValueError(f"average must be 'micro' or 'macro', got {average!r}")
    mask = label_mask(tp, fn, labels)
    if not mask.any():
        z = float(zero_division)
        return z, z, z
    p, r, f = per_label_scores(tp[mask], fp[mask], fn[mask], zero_division)
    return float(p.mean()), float(r.mean()), float(f.mean())


def per_label_f1(
    preds: np.ndarray, targets: np.ndarray, zero_division: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Per-label F1 and support, e.g. for plotting F1 against label frequency.

    Args:
        preds: (N, L) bool decided labels.
        targets: (N, L) bool true labels.
        zero_division: F1 of a label with no true and no predicted instance.

    Returns:
        ``(f1, support)``: (L,) float F1 and (L,) int64 number of true instances.
        For streaming use :class:`labelwise.metrics.ConfusionCounts` instead.
    """
    preds, targets = _check_pair(preds, targets)
    tp, fp, fn = confusion_counts(preds, targets)
    return per_label_scores(tp, fp, fn, zero_division)[2], tp + fn


def hamming_loss(preds: np.ndarray, targets: np.ndarray) -> float:
    """Fraction of (document, label) cells where the decision is wrong."""
    preds, targets = _check_pair(preds, targets)
    if preds.size == 0:
        return 0.0
    return float(np.count_nonzero(preds != targets) / preds.size)


def subset_accuracy(preds: np.ndarray, targets: np.ndarray) -> float:
    """Exact-match ratio: documents whose whole label set is right (multi-class accuracy)."""
    preds, targets = _check_pair(preds, targets)
    if preds.shape[0] == 0:
        return 0.0
    return float(np.count_nonzero((preds == targets).all(axis=1)) / preds.shape[0])


def _check_pair(preds: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    preds = np.asarray(preds, dtype=bool)
    targets = np.asarray(targets, dtype=bool)
    if preds.ndim != 2 or preds.shape != targets.shape:
        raise ValueError(
            f"preds and targets must both be (N, L) matrices of the same shape, got "
            f"preds {preds.shape} and targets {targets.shape}; pass one row per document "
            "and one column per label"
        )
    return preds, targets
