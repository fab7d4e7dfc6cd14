"""The streaming metric interface: ``update()`` many times, then ``compute()``.

Metrics accumulate global counts and sums (never per-batch averages), so the result does not
depend on how the documents were split into batches, and their memory is O(L).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from labelwise.metrics.inputs import MetricInputs


@dataclass(frozen=True)
class MetricContext:
    """What every metric constructor receives.

    Attributes:
        name: the metric's canonical name, e.g. ``"micro_f1"`` or ``"p@5"``.
        num_labels: L, the number of label columns.
        k: the cut-off of a ``@k`` metric, else None.
        train_label_counts: (L,) training documents per label (PSP and bucket metrics).
        num_train_docs: number of training documents (PSP).
    """

    name: str
    num_labels: int
    k: int | None = None
    train_label_counts: np.ndarray | None = None
    num_train_docs: int | None = None

    def __post_init__(self) -> None:
        if self.num_labels < 1:
            raise ValueError(f"num_labels must be a positive integer, got {self.num_labels}")
        if self.train_label_counts is not None:
            counts = np.asarray(self.train_label_counts)
            if counts.shape != (self.num_labels,):
                raise ValueError(
                    f"train_label_counts must have shape ({self.num_labels},) (one count per "
                    f"label), got {counts.shape}"
                )

    def require_train_counts(self) -> np.ndarray:
        """The training label counts, or a ValueError saying how to provide them."""
        if self.train_label_counts is None:
            raise ValueError(
                f"metric '{self.name}' needs the training label counts; pass "
                "train_label_counts=(number of training documents per label) to create_metrics"
            )
        return np.asarray(self.train_label_counts)


class Metric(ABC):
    """Base class of the streaming metrics.

    Subclasses set ``needs`` (which of ``"scores"``/``"preds"`` they read) and implement
    ``_update``, ``compute`` and ``reset``.
    """

    needs: ClassVar[tuple[str, ...]] = ("preds",)
    greater_is_better: ClassVar[bool] = True  # False for error rates (hamming_loss)

    def __init__(self, ctx: MetricContext, config: Any = None) -> None:
        self.ctx = ctx
        self.name = ctx.name
        self.num_labels = ctx.num_labels
        self.config = config
        self.reset()

    @property
    def max_k(self) -> int:
        """The largest top-k this metric ranks (0 if it does not rank)."""
        return self.ctx.k or 0

    def output_names(self) -> list[str]:
        """The keys ``compute()`` returns (just ``name`` unless a subclass says otherwise)."""
        return [self.name]

    def update(self, scores: Any, preds: Any, targets: Any) -> None:
        """Add one batch: ``scores`` (B, L) float, ``preds`` and ``targets`` (B, L) bool."""
        self.update_inputs(MetricInputs(scores, preds, targets, self.num_labels, self.max_k))

    def update_inputs(self, batch: MetricInputs) -> None:
        """Add one already validated batch (shared between the metrics of a collection)."""
        for what in self.needs:
            batch.require(what, self.name)
        self._update(batch)

    @abstractmethod
    def _update(self, batch: MetricInputs) -> None: ...

    @abstractmethod
    def compute(self) -> dict[str, float]:
        """The metric value(s) over everything seen since the last reset."""

    @abstractmethod
    def reset(self) -> None:
        """Forget all accumulated state."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, num_labels={self.num_labels})"
