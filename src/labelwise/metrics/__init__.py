"""Streaming evaluation metrics over global counts.

Build them by name and feed them batches::

    metrics = create_metrics(["micro_f1", "macro_f1", "p@5", "ndcg@5"], num_labels=L)
    for scores, preds, targets in batches:  # (B, L) float, bool, bool
        metrics.update(scores, preds, targets)
    results = metrics.compute()  # {"micro_f1": ..., "p@5": ..., ...}

Every metric accumulates counts or sums over documents (never per-batch averages), so
the result is the same however the data is batched. Importing this package registers the
metrics in :data:`labelwise.registry.METRICS`.

Conventions:
    * Macro averages run over all labels; a label with no true and no predicted instance
      scores 0 (scikit-learn's ``zero_division=0``). Option ``labels: present`` averages
      only over labels occurring in the targets.
    * Ranking metrics count documents without a true label as 0 (option ``skip_empty``).
    * ``psp@k`` is normalised as sum of PSP@k over documents / sum of the best PSP@k.
"""

from labelwise.metrics.base import Metric, MetricContext
from labelwise.metrics.buckets import BucketF1, assign_buckets
from labelwise.metrics.classification import (
    Accuracy,
    ConfusionCounts,
    HammingLoss,
    MacroF1,
    MacroPrecision,
    MacroRecall,
    MicroF1,
    MicroPrecision,
    MicroRecall,
)
from labelwise.metrics.collection import MetricCollection, create_metrics
from labelwise.metrics.functional import (
    confusion_counts,
    hamming_loss,
    per_label_f1,
    per_label_scores,
    precision_recall_f1,
    subset_accuracy,
)
from labelwise.metrics.inputs import MetricInputs
from labelwise.metrics.names import MetricName, describe, greater_is_better, parse_metric_name
from labelwise.metrics.ranking import (
    NDCGAtK,
    PrecisionAtK,
    PSPAtK,
    RecallAtK,
    RPrecisionAtK,
)
from labelwise.metrics.topk import (
    inverse_propensity,
    ndcg_at_k,
    precision_at_k,
    psp_at_k,
    recall_at_k,
    rprecision_at_k,
    top_k_indices,
)

__all__ = [
    "Accuracy",
    "BucketF1",
    "ConfusionCounts",
    "HammingLoss",
    "MacroF1",
    "MacroPrecision",
    "MacroRecall",
    "Metric",
    "MetricCollection",
    "MetricContext",
    "MetricInputs",
    "MetricName",
    "MicroF1",
    "MicroPrecision",
    "MicroRecall",
    "NDCGAtK",
    "PSPAtK",
    "PrecisionAtK",
    "RPrecisionAtK",
    "RecallAtK",
    "assign_buckets",
    "confusion_counts",
    "create_metrics",
    "describe",
    "greater_is_better",
    "hamming_loss",
    "inverse_propensity",
    "ndcg_at_k",
    "parse_metric_name",
    "per_label_f1",
    "per_label_scores",
    "precision_at_k",
    "precision_recall_f1",
    "psp_at_k",
    "recall_at_k",
    "rprecision_at_k",
    "subset_accuracy",
    "top_k_indices",
]
