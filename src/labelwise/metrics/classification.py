"""Streaming decision-based metrics: accuracy, Hamming loss, micro/macro P/R/F1.

All of them accumulate per-label counts (O(L) memory) and divide only in ``compute()``.
Macro averages run over all L labels by default; a label with no true and no predicted
instance then scores 0 (scikit-learn's ``zero_division=0``). Set ``labels: present`` to
average only over labels seen at least once in the targets.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from labelwise.metrics.base import Metric, MetricContext
from labelwise.metrics.functional import per_label_scores, precision_recall_f1
from labelwise.metrics.inputs import MetricInputs
from labelwise.registry import METRICS


class ConfusionCounts:
    """Accumulated per-label counts of decisions against targets.

    Args:
        num_labels: L.

    Attributes:
        tp, fp, fn: (L,) int64 true positives, false positives, false negatives.
        num_docs: documents seen. exact: documents whose whole label set was right.
    """

    def __init__(self, num_labels: int) -> None:
        self.num_labels = num_labels
        self.reset()

    def reset(self) -> None:
        """Zero all counts."""
        self.tp = np.zeros(self.num_labels, dtype=np.int64)
        self.fp = np.zeros(self.num_labels, dtype=np.int64)
        self.fn = np.zeros(self.num_labels, dtype=np.int64)
        self.num_docs = 0
        self.exact = 0

    def update(self, preds: np.ndarray, targets: np.ndarray) -> None:
        """Add a batch of (B, L) bool decisions and targets."""
        self.update_inputs(MetricInputs(None, preds, targets, self.num_labels))

    def update_inputs(self, batch: MetricInputs) -> None:
        """Add an already validated batch."""
        tp, fp, fn = batch.counts
        self.tp += tp
        self.fp += fp
        self.fn += fn
        self.num_docs += len(batch)
        self.exact += batch.exact_matches

    @property
    def support(self) -> np.ndarray:
        """(L,) number of true instances per label."""
        return self.tp + self.fn

    def per_label_f1(self, zero_division: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """``(f1, support)`` per label, each (L,), over everything seen so far."""
        return per_label_scores(self.tp, self.fp, self.fn, zero_division)[2], self.support


class AveragingConfig(BaseModel):
    """Options of the micro/macro precision, recall and F1 metrics."""

    model_config = ConfigDict(extra="forbid")
    labels: Literal["all", "present"] = "all"
    zero_division: Literal[0, 1] = 0


class _CountMetric(Metric):
    """A metric computed from :class:`ConfusionCounts`."""

    def reset(self) -> None:
        self.counts = ConfusionCounts(self.num_labels)

    def _update(self, batch: MetricInputs) -> None:
        self.counts.update_inputs(batch)


@METRICS.register("accuracy")
class Accuracy(_CountMetric):
    """Exact-match ratio (subset accuracy); ordinary accuracy for multi-class."""

    def compute(self) -> dict[str, float]:
        c = self.counts
        return {self.name: c.exact / c.num_docs if c.num_docs else 0.0}


@METRICS.register("hamming_loss")
class HammingLoss(_CountMetric):
    """Fraction of wrong (document, label) decisions; lower is better."""

    greater_is_better = False

    def compute(self) -> dict[str, float]:
        c = self.counts
        cells = c.num_docs * self.num_labels
        return {self.name: float(c.fp.sum() + c.fn.sum()) / cells if cells else 0.0}


class _PRFMetric(_CountMetric):
    """Precision, recall or F1, micro- or macro-averaged over labels."""

    Config = AveragingConfig
    average: Literal["micro", "macro"] = "micro"
    statistic: int = 2  # index into (precision, recall, f1)

    def __init__(self, ctx: MetricContext, config: AveragingConfig | None = None) -> None:
        super().__init__(ctx, config or AveragingConfig())

    def compute(self) -> dict[str, float]:
        c, cfg = self.counts, self.config
        values = precision_recall_f1(
            c.tp, c.fp, c.fn, self.average, cfg.labels, float(cfg.zero_division)
        )
        return {self.name: values[self.statistic]}


@METRICS.register("micro_precision")
class MicroPrecision(_PRFMetric):
    """Precision of the pooled decisions of all labels."""

    average, statistic = "micro", 0


@METRICS.register("micro_recall")
class MicroRecall(_PRFMetric):
    """Recall of the pooled decisions of all labels."""

    average, statistic = "micro", 1


@METRICS.register("micro_f1")
class MicroF1(_PRFMetric):
    """F1 of the pooled decisions of all labels (multi-class: equals accuracy)."""

    average, statistic = "micro", 2


@METRICS.register("macro_precision")
class MacroPrecision(_PRFMetric):
    """Unweighted mean over labels of per-label precision."""

    average, statistic = "macro", 0


@METRICS.register("macro_recall")
class MacroRecall(_PRFMetric):
    """Unweighted mean over labels of per-label recall."""

    average, statistic = "macro", 1


@METRICS.register("macro_f1")
class MacroF1(_PRFMetric):
    """Unweighted mean over labels of per-label F1 (absent labels score 0 by default)."""

    average, statistic = "macro", 2
