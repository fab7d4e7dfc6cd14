"""Build metrics by name and update them together: :func:`create_metrics`.

Names are those users write in configs: ``micro_f1``, ``macro_f1``, ``accuracy``, ``p@5``,
``ndcg@10``, ``bucket_f1`` (or ``f1_head``/``f1_medium``/``f1_tail``, which all build it).
The ``@k`` families are registered as ``p@k``, ``ndcg@k``, ... and ``k`` is read from the
requested name.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from labelwise.metrics.base import Metric, MetricContext
from labelwise.metrics.classification import ConfusionCounts
from labelwise.metrics.inputs import MetricInputs
from labelwise.metrics.names import parse_metric_name
from labelwise.registry import METRICS


class MetricCollection:
    """Several streaming metrics updated from the same batches.

    Each batch is validated once and shared quantities (per-label counts, the top-k ranking
    for the largest k) are computed once for all metrics.

    Args:
        metrics: the metrics; they must agree on ``num_labels`` and on their output keys
            being distinct.
    """

    def __init__(self, metrics: Sequence[Metric]) -> None:
        self.metrics = list(metrics)
        for m in self.metrics:
            if not isinstance(m, Metric):
                raise ValueError(f"expected labelwise Metric objects, got {type(m).__name__}")
        sizes = {m.num_labels for m in self.metrics}
        if len(sizes) > 1:
            raise ValueError(f"all metrics must share num_labels, got {sorted(sizes)}")
        self.num_labels = sizes.pop() if sizes else 0
        keys = [k for m in self.metrics for k in m.output_names()]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"metrics would report the same keys twice: {dupes}")
        self.max_k = max((m.max_k for m in self.metrics), default=0)

    @property
    def names(self) -> list[str]:
        """The keys ``compute()`` returns, in order."""
        return [k for m in self.metrics for k in m.output_names()]

    def __len__(self) -> int:
        return len(self.metrics)

    def __iter__(self) -> Iterator[Metric]:
        return iter(self.metrics)

    def update(self, scores: Any, preds: Any, targets: Any) -> None:
        """Add one batch to every metric.

        Args:
            scores: (B, L) float, higher = more likely (None if no ranking metric).
            preds: (B, L) bool decided labels (None if no decision metric).
            targets: (B, L) bool true labels.
        """
        if not self.metrics:
            return
        batch = MetricInputs(scores, preds, targets, self.num_labels, self.max_k)
        for m in self.metrics:
            m.update_inputs(batch)

    def compute(self) -> dict[str, float]:
        """Every metric's value(s) over all batches since the last reset."""
        out: dict[str, float] = {}
        for m in self.metrics:
            out.update(m.compute())
        return out

    def reset(self) -> None:
        """Forget all batches."""
        for m in self.metrics:
            m.reset()

    def per_label_f1(self, zero_division: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """``(f1, support)`` per label from the first decision metric's accumulated counts."""
        for m in self.metrics:
            counts = getattr(m, "counts", None)
            if isinstance(counts, ConfusionCounts):
                return counts.per_label_f1(zero_division)
        raise ValueError(
            "per-label F1 needs a decision metric in the collection, got "
            f"{self.names}; add e.g. 'macro_f1'"
        )


def create_metrics(
    names: Sequence[str],
    num_labels: int,
    train_label_counts: np.ndarray | None = None,
    num_train_docs: int | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
) -> MetricCollection:
    """Build a :class:`MetricCollection` from metric names.

    Args:
        names: e.g. ``["micro_f1", "macro_f1", "p@1", "p@5", "ndcg@5"]``; repeats are
            built once.
        num_labels: L.
        train_label_counts: (L,) training documents per label; needed by ``psp@k`` and
            ``bucket_f1``.
        num_train_docs: number of training documents; needed by ``psp@k``.
        params: options per metric, keyed by the requested name (``"psp@5"``) or the
            family (``"psp@k"``), e.g. ``{"macro_f1": {"labels": "present"}}``.

    Raises:
        ValueError: unknown names or options, or missing training statistics.
    """
    if isinstance(names, str):
        raise ValueError(f"names must be a list of metric names, got the string {names!r}")
    params = dict(params or {})
    counts = None if train_label_counts is None else np.asarray(train_label_counts)
    used: set[str] = set()
    built: dict[str, Metric] = {}
    for raw in names:
        family, k = parse_metric_name(raw)
        canonical = family if k is None else f"{family[:-2]}@{k}"
        if canonical in built:
            continue
        options: Mapping[str, Any] = {}
        for key in (raw, canonical, family):
            if key in params:
                options = params[key]
                used.add(key)
                break
        ctx = MetricContext(canonical, num_labels, k, counts, num_train_docs)
        built[canonical] = METRICS.create(family, ctx, **dict(options))
    unused = sorted(set(params) - used)
    if unused:
        raise ValueError(
            f"options given for metrics that were not requested: {unused}; requested: "
            f"{sorted(built)}. Key options by a requested name or its family (e.g. 'p@k')"
        )
    return MetricCollection(list(built.values()))
