"""What a metric name means: the one parser of the names users write.

A requested name is an optional prefix and a registered metric:

- ``p@5``, ``micro_f1``: a metric of the registry (``@k`` families take k in the name);
- ``f1_head``, ``f1_medium``, ``f1_tail``: the outputs of the ``bucket_f1`` family;
- ``level2_accuracy``: the metric on the columns of hierarchy level 2 (1 = top);
- ``fewshot_p@5``: the metric on a label group by training frequency (:data:`LABEL_GROUPS`);
- ``loss``: the validation loss (a primary metric only; lower is better).

Each metric class says whether greater is better (``Metric.greater_is_better``).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np

from labelwise.registry import METRICS

# outputs of one family: asking for any of them builds it
ALIASES = {"f1_head": "bucket_f1", "f1_medium": "bucket_f1", "f1_tail": "bucket_f1"}
BUCKET_NAMES = frozenset(ALIASES)
LOSS = "loss"

# label groups by training frequency, as in the EURLEX57K papers: name -> [low, high]
LABEL_GROUPS: dict[str, tuple[float, float]] = {
    "frequent": (50, float("inf")), "fewshot": (1, 49), "zeroshot": (0, 0),
}


def parse_metric_name(name: str) -> tuple[str, int | None]:
    """Split a registered metric's name into its registry name and cut-off.

    ``"p@5"`` gives ``("p@k", 5)``, ``"micro_f1"`` gives ``("micro_f1", None)``.

    Raises:
        ValueError: for unknown names (with close matches) or a cut-off that is not a
            positive integer.
    """
    name = ALIASES.get(name.strip(), name.strip())
    if "@" not in name:
        try:
            METRICS.get(name)
        except ValueError as err:
            raise ValueError(f"{err}. Top-k metrics take k in the name, e.g. 'p@5'.") from None
        return name, None
    prefix, _, k_text = name.partition("@")
    family = f"{prefix}@k"
    if family not in METRICS:
        families = [n for n in METRICS.names() if n.endswith("@k")]
        example = k_text if k_text.isdigit() else "5"
        close = difflib.get_close_matches(family.lower(), families, n=3, cutoff=0.4)
        hint = ""
        if close:
            hint = " Did you mean " + ", ".join(f"'{c[:-1]}{example}'" for c in close) + "?"
        raise ValueError(
            f"unknown metric '{name}'.{hint} Top-k families: {', '.join(families)} "
            f"(replace k by a positive integer)"
        )
    if not k_text.isdigit() or int(k_text) < 1:
        raise ValueError(
            f"metric '{name}': the cut-off after '@' must be a positive integer, got "
            f"'{k_text}'; write e.g. '{prefix}@5'"
        )
    return family, int(k_text)


@dataclass(frozen=True)
class MetricName:
    """A requested metric name, taken apart.

    Attributes:
        name: as requested, e.g. ``"fewshot_p@5"``.
        metric: the name without its level or group prefix, e.g. ``"p@5"``.
        family: the registry name it builds (``"p@k"``, ``"bucket_f1"``), or ``"loss"``.
        k: the cut-off of a ``@k`` family.
        level: 0-based hierarchy level of a ``levelK_`` name.
        group: the label group of a ``<group>_`` name.
    """

    name: str
    metric: str
    family: str
    k: int | None = None
    level: int | None = None
    group: str | None = None

    @property
    def greater_is_better(self) -> bool:
        if self.family == LOSS:
            return False
        return bool(getattr(METRICS.get(self.family), "greater_is_better", True))


def split_level(name: str) -> tuple[int, str] | None:
    """``"level2_accuracy"`` -> ``(1, "accuracy")`` (0-based level); None without the prefix."""
    head, sep, metric = name.partition("_")
    digits = head[len("level"):]
    if head.startswith("level") and sep and metric and digits.isdigit() and int(digits) >= 1:
        return int(digits) - 1, metric
    return None


def split_group(name: str) -> tuple[str, str] | None:
    """``"fewshot_p@5"`` -> ``("fewshot", "p@5")``; None for a name without a group prefix."""
    group, sep, metric = name.partition("_")
    return (group, metric) if sep and group in LABEL_GROUPS and metric else None


def describe(name: str) -> MetricName:
    """Take a requested metric name apart (see the module docstring).

    Raises:
        ValueError: an unknown metric, naming the close matches.
    """
    name = name.strip()
    if name == LOSS:
        return MetricName(name, name, LOSS)
    level = group = None
    metric = name
    if (lv := split_level(name)) is not None:
        level, metric = lv
    elif (gr := split_group(name)) is not None:
        group, metric = gr
    family, k = parse_metric_name(metric)
    return MetricName(name, metric, family, k, level, group)


def greater_is_better(name: str) -> bool:
    """Whether a larger value of metric ``name`` is better (False for losses)."""
    return describe(name).greater_is_better


def label_group_columns(train_counts: np.ndarray, group: str) -> np.ndarray:
    """Column ids of the labels whose training frequency falls in ``group``'s range."""
    low, high = LABEL_GROUPS[group]
    counts = np.asarray(train_counts)
    return np.nonzero((counts >= low) & (counts <= high))[0]
