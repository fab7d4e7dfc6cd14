"""F1 per label-frequency bucket (head / medium / tail), from training label counts.

Two ways to split the labels, chosen with ``mode``:

* ``"threshold"`` (default): tail = labels seen in fewer than ``tail_below`` (50) training
  documents, head = labels seen in at least ``head_from`` (500), medium = the rest.
* ``"quantile"``: labels sorted by training count (ties by label index) and cut into three
  groups of equal size (sizes differ by at most one; the tail gets the extra label first).

The metric reports ``f1_head``, ``f1_medium`` and ``f1_tail``, each the macro-F1 over the
labels of that bucket (zero_division=0), and with ``micro: true`` also ``micro_f1_head``,
etc. A bucket with no label to average over reports NaN rather than a misleading 0.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from labelwise.metrics.base import MetricContext
from labelwise.metrics.classification import _CountMetric
from labelwise.metrics.functional import label_mask, precision_recall_f1
from labelwise.registry import METRICS

BUCKETS = ("head", "medium", "tail")


def assign_buckets(
    train_label_counts: np.ndarray,
    mode: Literal["threshold", "quantile"] = "threshold",
    tail_below: int = 50,
    head_from: int = 500,
) -> dict[str, np.ndarray]:
    """Split labels into head, medium and tail by their training frequency.

    Args:
        train_label_counts: (L,) number of training documents per label.
        mode: ``"threshold"`` or ``"quantile"`` (see the module docstring).
        tail_below: threshold mode: counts below this are tail.
        head_from: threshold mode: counts at or above this are head.

    Returns:
        ``{"head": mask, "medium": mask, "tail": mask}``, (L,) bool masks that partition
        the labels (every label is in exactly one bucket).
    """
    counts = np.asarray(train_label_counts)
    if counts.ndim != 1:
        raise ValueError(
            f"train_label_counts must be 1-D (one count per label), got {counts.shape}"
        )
    if mode == "threshold":
        if tail_below > head_from:
            raise ValueError(
                f"tail_below ({tail_below}) must not exceed head_from ({head_from}); "
                "lower tail_below or raise head_from"
            )
        tail = counts < tail_below
        head = counts >= head_from
        return {"head": head, "medium": ~(head | tail), "tail": tail}
    if mode == "quantile":
        order = np.argsort(counts, kind="stable")
        out = {}
        for name, part in zip(("tail", "medium", "head"), np.array_split(order, 3), strict=True):
            mask = np.zeros(counts.shape[0], dtype=bool)
            mask[part] = True
            out[name] = mask
        return {name: out[name] for name in BUCKETS}
    raise ValueError(f"mode must be 'threshold' or 'quantile', got {mode!r}")


class BucketConfig(BaseModel):
    """Options of ``bucket_f1``."""

    model_config = ConfigDict(extra="forbid")
    mode: Literal["threshold", "quantile"] = "threshold"
    tail_below: int = 50
    head_from: int = 500
    labels: Literal["all", "present"] = "all"
    micro: bool = False


@METRICS.register("bucket_f1")
class BucketF1(_CountMetric):
    """Macro-F1 within head / medium / tail labels by training frequency (f1_head, ...)."""

    Config = BucketConfig

    def __init__(self, ctx: MetricContext, config: BucketConfig | None = None) -> None:
        cfg = config or BucketConfig()
        counts = ctx.require_train_counts()
        self.buckets = assign_buckets(counts, cfg.mode, cfg.tail_below, cfg.head_from)
        super().__init__(ctx, cfg)

    def output_names(self) -> list[str]:
        """The keys ``compute()`` returns."""
        names = [f"f1_{b}" for b in BUCKETS]
        if self.config.micro:
            names += [f"micro_f1_{b}" for b in BUCKETS]
        return names

    def compute(self) -> dict[str, float]:
        c, cfg = self.counts, self.config
        present = label_mask(c.tp, c.fn, cfg.labels)
        out: dict[str, float] = {}
        for name, mask in self.buckets.items():
            sel = mask & present
            if not sel.any():
                out[f"f1_{name}"] = float("nan")
                continue
            out[f"f1_{name}"] = precision_recall_f1(c.tp[sel], c.fp[sel], c.fn[sel], "macro")[2]
        if cfg.micro:
            for name, mask in self.buckets.items():
                value = precision_recall_f1(c.tp[mask], c.fp[mask], c.fn[mask], "micro")[2]
                out[f"micro_f1_{name}"] = value if mask.any() else float("nan")
        return out
