"""Measuring decided scores with named metrics (the defaults per task live in :mod:`labelwise.tasks`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from labelwise.metrics import create_metrics
from labelwise.metrics.names import BUCKET_NAMES, describe, label_group_columns

__all__ = ["evaluate_scores", "label_group_columns"]


def evaluate_scores(
    names: Sequence[str],
    scores: np.ndarray,
    preds: np.ndarray,
    targets: np.ndarray,
    train_counts: np.ndarray | None = None,
    num_train_docs: int | None = None,
    levels: Sequence[Sequence[int]] | None = None,
    bucket_mode: str = "quantile",
    group_counts: np.ndarray | None = None,
) -> dict[str, float]:
    """Metrics over whole arrays (N, L). ``levelK_<metric>`` names are computed on the
    columns of hierarchy level K (1-based). Frequency buckets are thirds of the labels by
    training frequency (``quantile``), or the fixed thresholds of extreme multi-label
    work, tail < 50 <= medium < 500 <= head (``threshold``). Label groups
    (``fewshot_p@5``, ...) follow ``group_counts`` where given (e.g. the full training
    set's counts when a fraction of it was trained on), else ``train_counts``."""
    targets = targets.astype(bool)
    parsed = [describe(n) for n in names]
    level_names = [p for p in parsed if p.level is not None]
    group_names = [p for p in parsed if p.group is not None]
    rest = [p.name for p in parsed if p.level is None and p.group is None]
    plain = [n for n in rest if n not in BUCKET_NAMES]
    wants_buckets = len(plain) < len(rest)  # f1_head, ...: the outputs of one family, bucket_f1
    if wants_buckets:
        plain.append("bucket_f1")
    out: dict[str, float] = {}
    if plain:
        params = {"bucket_f1": {"mode": bucket_mode}} if wants_buckets else None
        coll = create_metrics(plain, scores.shape[1], train_label_counts=train_counts,
                              num_train_docs=num_train_docs, params=params)
        coll.update(scores, preds, targets)
        out.update(coll.compute())
    for p in level_names:
        assert p.level is not None
        if levels is None or not 0 <= p.level < len(levels):
            raise ValueError(f"metric '{p.name}' needs a hierarchy with at least {p.level + 1} levels")
        cols = np.asarray(levels[p.level])
        sub = create_metrics([p.metric], len(cols))
        sub.update(scores[:, cols], preds[:, cols], targets[:, cols])
        out[p.name] = sub.compute()[p.metric]
    for p in group_names:
        assert p.group is not None
        out[p.name] = _group_metric(p.name, p.group, p.metric, scores, preds, targets,
                                    train_counts if group_counts is None else group_counts)
    wanted = set(names)
    return {k: float(v) for k, v in out.items() if k in wanted or k in BUCKET_NAMES & wanted}


def _group_metric(
    name: str, group: str, metric: str, scores: np.ndarray, preds: np.ndarray,
    targets: np.ndarray, train_counts: np.ndarray | None,
) -> float:
    """``<group>_<metric>`` (``frequent`` >= 50 training documents, ``fewshot`` 1-49,
    ``zeroshot`` 0): the metric over the group's label columns only, on the documents that
    carry at least one label of the group (the others have nothing to find there). NaN when
    no test document has a label of the group."""
    if train_counts is None:
        raise ValueError(f"metric '{name}' needs the training label counts")
    cols = label_group_columns(train_counts, group)
    rows = np.nonzero(targets[:, cols].any(axis=1))[0] if len(cols) else np.array([], dtype=int)
    if len(rows) == 0:
        return float("nan")
    sub = create_metrics([metric], len(cols))
    sub.update(scores[np.ix_(rows, cols)], preds[np.ix_(rows, cols)], targets[np.ix_(rows, cols)])
    return float(sub.compute()[metric])
