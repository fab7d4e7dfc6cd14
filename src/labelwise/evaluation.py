"""Which metrics a task reports by default, and measuring decided scores with them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from labelwise.types import Task

DEFAULTS: dict[Task, list[str]] = {
    Task.MULTICLASS: ["accuracy", "macro_f1", "macro_precision", "macro_recall"],
    Task.MULTILABEL: [
        "micro_f1", "macro_f1", "micro_precision", "micro_recall", "accuracy",
        "hamming_loss", "p@1", "p@3", "f1_head", "f1_medium", "f1_tail",
    ],
    Task.HIERARCHICAL: ["micro_f1", "macro_f1", "accuracy"],
    Task.EXTREME: [
        "p@1", "p@3", "p@5", "ndcg@1", "ndcg@3", "ndcg@5", "rprec@5",
        "psp@1", "psp@3", "psp@5", "micro_f1", "macro_f1", "f1_head", "f1_medium", "f1_tail",
        *(f"{g}_{m}" for g in ("frequent", "fewshot", "zeroshot") for m in ("p@1", "p@5", "ndcg@5")),
    ],
}
PRIMARY = {Task.MULTICLASS: "accuracy", Task.MULTILABEL: "micro_f1",
           Task.HIERARCHICAL: "micro_f1", Task.EXTREME: "p@5"}
BUCKET_NAMES = {"f1_head", "f1_medium", "f1_tail"}

# label groups by training frequency, as in the EURLEX57K papers: name -> [low, high]
LABEL_GROUPS: dict[str, tuple[float, float]] = {
    "frequent": (50, float("inf")), "fewshot": (1, 49), "zeroshot": (0, 0),
}


def split_group_metric(name: str) -> tuple[str, str] | None:
    """``"fewshot_p@5"`` -> ``("fewshot", "p@5")``; None for a name without a group prefix."""
    group, sep, metric = name.partition("_")
    return (group, metric) if sep and group in LABEL_GROUPS and metric else None


def label_group_columns(train_counts: np.ndarray, group: str) -> np.ndarray:
    """Column ids of the labels whose training frequency falls in ``group``'s range."""
    low, high = LABEL_GROUPS[group]
    counts = np.asarray(train_counts)
    return np.nonzero((counts >= low) & (counts <= high))[0]


def default_metrics(task: Task, num_levels: int = 0) -> list[str]:
    names = list(DEFAULTS[task])
    if task == Task.HIERARCHICAL:
        names += [f"level{k + 1}_accuracy" for k in range(num_levels)]
    return names


def primary_metric(task: Task, configured: str) -> str:
    return PRIMARY[task] if configured == "auto" else configured


def _bucket_request(names: Sequence[str]) -> tuple[list[str], bool]:
    """Bucket outputs (f1_head, ...) come from one metric family named 'bucket_f1'."""
    plain = [n for n in names if n not in BUCKET_NAMES]
    wants = any(n in BUCKET_NAMES for n in names)
    return plain, wants


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
    from labelwise.metrics import create_metrics

    targets = targets.astype(bool)
    level_names = [n for n in names if n.startswith("level") and "_" in n]
    group_names = [n for n in names if split_group_metric(n) is not None]
    rest = [n for n in names if n not in level_names and n not in group_names]
    plain, wants_buckets = _bucket_request(rest)
    if wants_buckets:
        plain.append("bucket_f1")
    out: dict[str, float] = {}
    if plain:
        params = {"bucket_f1": {"mode": bucket_mode}} if wants_buckets else None
        coll = create_metrics(plain, scores.shape[1], train_label_counts=train_counts,
                              num_train_docs=num_train_docs, params=params)
        coll.update(scores, preds, targets)
        out.update(coll.compute())
    for name in level_names:
        head, _, metric = name.partition("_")
        k = int(head[len("level"):]) - 1
        if levels is None or not 0 <= k < len(levels):
            raise ValueError(f"metric '{name}' needs a hierarchy with at least {k + 1} levels")
        cols = np.asarray(levels[k])
        sub = create_metrics([metric], len(cols))
        sub.update(scores[:, cols], preds[:, cols], targets[:, cols])
        out[name] = sub.compute()[metric]
    for name in group_names:
        out[name] = _group_metric(name, scores, preds, targets,
                                  train_counts if group_counts is None else group_counts)
    wanted = set(names)
    return {k: float(v) for k, v in out.items() if k in wanted or k in BUCKET_NAMES & wanted}


def _group_metric(
    name: str, scores: np.ndarray, preds: np.ndarray, targets: np.ndarray,
    train_counts: np.ndarray | None,
) -> float:
    """``<group>_<metric>`` (``frequent`` >= 50 training documents, ``fewshot`` 1-49,
    ``zeroshot`` 0): the metric over the group's label columns only, on the documents that
    carry at least one label of the group (the others have nothing to find there). NaN when
    no test document has a label of the group."""
    from labelwise.metrics import create_metrics

    parts = split_group_metric(name)
    assert parts is not None
    group, metric = parts
    if train_counts is None:
        raise ValueError(f"metric '{name}' needs the training label counts")
    cols = label_group_columns(train_counts, group)
    rows = np.nonzero(targets[:, cols].any(axis=1))[0] if len(cols) else np.array([], dtype=int)
    if len(rows) == 0:
        return float("nan")
    sub = create_metrics([metric], len(cols))
    sub.update(scores[np.ix_(rows, cols)], preds[np.ix_(rows, cols)], targets[np.ix_(rows, cols)])
    return float(sub.compute()[metric])
