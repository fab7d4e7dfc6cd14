"""Validation of one metric update, and quantities shared by several metrics.

:class:`MetricInputs` checks the arrays of one ``update(scores, preds, targets)`` call once
and caches what several metrics need (per-label counts, ranked hits for the largest k), so a
collection of metrics does each expensive step a single time per batch.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np

from labelwise.metrics.functional import confusion_counts
from labelwise.metrics.topk import top_k_indices


def to_numpy(x: Any) -> np.ndarray:
    """A numpy array from a numpy array, list or (CPU or GPU) torch tensor."""
    if hasattr(x, "detach"):  # torch.Tensor, without importing torch
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def as_bool_matrix(x: Any, what: str) -> np.ndarray:
    """``x`` as a bool array; numeric arrays must hold only 0 and 1."""
    arr = to_numpy(x)
    if arr.dtype == bool:
        return arr
    if arr.dtype.kind in "iuf" and np.isin(arr, (0, 1)).all():
        return arr.astype(bool)
    raise ValueError(
        f"{what} must be a bool (or 0/1) matrix, got dtype {arr.dtype}; threshold the "
        f"scores first (e.g. scores > 0.5) or convert class ids to one-hot"
    )


class MetricInputs:
    """One validated batch: ``scores`` (B, L) float, ``preds`` and ``targets`` (B, L) bool.

    Args:
        scores: (B, L) scores, higher = more likely; may be None if no metric ranks.
        preds: (B, L) decided labels; may be None if no metric uses decisions.
        targets: (B, L) true labels.
        num_labels: expected L.
        max_k: the largest top-k any metric will ask for (ranked once, sliced for smaller k).

    Raises:
        ValueError: if a shape, dtype or value is not as above.
    """

    def __init__(
        self,
        scores: Any,
        preds: Any,
        targets: Any,
        num_labels: int,
        max_k: int = 0,
    ) -> None:
        self.targets = as_bool_matrix(targets, "targets")
        self.preds = None if preds is None else as_bool_matrix(preds, "preds")
        self.scores = None if scores is None else to_numpy(scores)
        self.num_labels = num_labels
        self.max_k = max_k
        self._check_shapes()

    def _check_shapes(self) -> None:
        t = self.targets
        if t.ndim != 2 or t.shape[1] != self.num_labels:
            raise ValueError(
                f"targets must have shape (batch, {self.num_labels}) (one column per "
                f"label), got {t.shape}; check num_labels or the label vocabulary"
            )
        for name, arr in (("preds", self.preds), ("scores", self.scores)):
            if arr is not None and arr.shape != t.shape:
                raise ValueError(
                    f"{name} must have the same shape as targets {t.shape}, got {arr.shape}; "
                    "pass one row per document and one column per label for all three"
                )
        if self.scores is not None:
            if self.scores.dtype.kind not in "iuf":
                raise ValueError(f"scores must be a numeric matrix, got dtype {self.scores.dtype}")
            if self.scores.dtype.kind != "f":
                self.scores = self.scores.astype(np.float64)
            if np.isnan(self.scores).any():
                raise ValueError("scores contain NaN; check the model outputs for divergence")

    def __len__(self) -> int:
        return int(self.targets.shape[0])

    def require(self, what: str, metric: str) -> np.ndarray:
        """``self.scores`` or ``self.preds``, or a ValueError naming the metric needing it."""
        arr = getattr(self, what)
        if arr is None:
            raise ValueError(f"metric '{metric}' needs {what}, got None; pass {what} to update()")
        return arr

    @cached_property
    def counts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-label (tp, fp, fn) of the decisions, each (L,) int64."""
        tp, fp, fn = confusion_counts(self.require("preds", "precision/recall/F1"), self.targets)
        return tp, fp, fn

    @cached_property
    def exact_matches(self) -> int:
        """Number of documents whose decided label set equals the true one."""
        preds = self.require("preds", "accuracy")
        return int(np.count_nonzero((preds == self.targets).all(axis=1)))

    @cached_property
    def n_true(self) -> np.ndarray:
        """(B,) number of true labels per document."""
        return np.count_nonzero(self.targets, axis=1)

    def top_k(self, k: int) -> np.ndarray:
        """(B, min(k, L)) label indices ranked best first; computed once for ``max_k``."""
        cached = self.__dict__.get("_top")
        if cached is None or cached[0] < k:
            kk = max(k, self.max_k)
            cached = (kk, top_k_indices(self.require("scores", f"top-{k}"), kk))
            self.__dict__["_top"] = cached
        return cached[1][:, :k]

    def hits(self, k: int) -> np.ndarray:
        """(B, min(k, L)) bool: is the label at each top-k rank true."""
        cached = self.__dict__.get("_hits")
        if cached is None or cached[0] < k:
            kk = max(k, self.max_k)
            cached = (kk, np.take_along_axis(self.targets, self.top_k(kk), axis=1))
            self.__dict__["_hits"] = cached
        return cached[1][:, :k]
