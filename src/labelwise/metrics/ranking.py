"""Streaming top-k ranking metrics: ``p@k``, ``r@k``, ``ndcg@k``, ``rprec@k``, ``psp@k``.

Each keeps running sums of per-document scores and document counts (O(1) memory besides
the inverse propensities of PSP). Documents without any true label score 0 and are counted
in the denominator (as LibMultiLabel does); ``skip_empty: true`` leaves them out instead.
``psp@k`` is normalised by default: the sum over documents of PSP@k divided by the sum
over documents of the best PSP@k a perfect ranking could reach (the ratio of sums used by
the Extreme Classification Repository tools), so it lies in [0, 1].
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict

from labelwise.metrics.base import Metric, MetricContext
from labelwise.metrics.inputs import MetricInputs
from labelwise.metrics.topk import (
    inverse_propensity,
    ndcg_from_hits,
    precision_from_hits,
    psp_parts,
    recall_from_hits,
    rprecision_from_hits,
)
from labelwise.registry import METRICS


class RankingConfig(BaseModel):
    """Options of the ``@k`` ranking metrics."""

    model_config = ConfigDict(extra="forbid")
    skip_empty: bool = False


class _RankMetric(Metric):
    """Mean over documents of a per-document top-k score."""

    needs = ("scores",)
    Config = RankingConfig

    def __init__(self, ctx: MetricContext, config: RankingConfig | None = None) -> None:
        if ctx.k is None or ctx.k < 1:
            raise ValueError(
                f"metric '{ctx.name}' needs a positive cut-off k, got {ctx.k}; "
                "write it in the name, e.g. 'p@5'"
            )
        self.k: int = ctx.k
        super().__init__(ctx, config or self.Config())

    def reset(self) -> None:
        self.total = 0.0
        self.num_docs = 0
        self.num_nonempty = 0

    def _per_doc(self, batch: MetricInputs) -> np.ndarray:
        raise NotImplementedError

    def _update(self, batch: MetricInputs) -> None:
        self.total += float(self._per_doc(batch).sum())
        self.num_docs += len(batch)
        self.num_nonempty += int(np.count_nonzero(batch.n_true))

    def compute(self) -> dict[str, float]:
        den = self.num_nonempty if self.config.skip_empty else self.num_docs
        return {self.name: self.total / den if den else 0.0}


@METRICS.register("p@k")
class PrecisionAtK(_RankMetric):
    """Precision@k: fraction of the k top-scored labels that are true."""

    def _per_doc(self, batch: MetricInputs) -> np.ndarray:
        return precision_from_hits(batch.hits(self.k), self.k)


@METRICS.register("r@k")
class RecallAtK(_RankMetric):
    """Recall@k: fraction of the true labels found among the k top-scored labels."""

    def _per_doc(self, batch: MetricInputs) -> np.ndarray:
        return recall_from_hits(batch.hits(self.k), self.k, batch.n_true)


@METRICS.register("rprec@k")
class RPrecisionAtK(_RankMetric):
    """R-Precision@k: hits in the top k over min(k, number of true labels)."""

    def _per_doc(self, batch: MetricInputs) -> np.ndarray:
        return rprecision_from_hits(batch.hits(self.k), self.k, batch.n_true)


@METRICS.register("ndcg@k")
class NDCGAtK(_RankMetric):
    """nDCG@k with binary relevance (ideal DCG over min(k, number of true labels))."""

    def _per_doc(self, batch: MetricInputs) -> np.ndarray:
        return ndcg_from_hits(batch.hits(self.k), self.k, batch.n_true)


class PSPConfig(RankingConfig):
    """Options of ``psp@k``: propensity model parameters A and B, and normalisation."""

    a: float = 0.55
    b: float = 1.5
    normalize: bool = True


@METRICS.register("psp@k")
class PSPAtK(_RankMetric):
    """Propensity-scored precision@k (Jain et al. 2016), normalised to [0, 1] by default.

    Needs the training label counts and the number of training documents. With
    ``normalize: false`` it reports the raw mean PSP@k, which can exceed 1.
    """

    Config = PSPConfig

    def __init__(self, ctx: MetricContext, config: PSPConfig | None = None) -> None:
        counts = ctx.require_train_counts()
        if ctx.num_train_docs is None:
            raise ValueError(
                f"metric '{ctx.name}' needs the number of training documents; pass "
                "num_train_docs to create_metrics"
            )
        super().__init__(ctx, config)
        cfg = self.config
        self.inv_prop = inverse_propensity(counts, ctx.num_train_docs, cfg.a, cfg.b)

    def reset(self) -> None:
        super().reset()
        self.best_total = 0.0

    def _update(self, batch: MetricInputs) -> None:
        psp, best = psp_parts(batch.top_k(self.k), batch.targets, self.inv_prop, self.k)
        self.total += float(psp.sum())
        self.best_total += float(best.sum())
        self.num_docs += len(batch)
        self.num_nonempty += int(np.count_nonzero(batch.n_true))

    def compute(self) -> dict[str, float]:
        if self.config.normalize:
            return {self.name: self.total / self.best_total if self.best_total else 0.0}
        return super().compute()
