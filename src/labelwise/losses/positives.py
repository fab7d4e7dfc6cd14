"""Positive-pair strategies: which items of a batch count as positives of each other.

Every strategy is a pure function of the batch targets returning a (B, B) float weight
matrix ``W`` with a zero diagonal: ``W[i, j] > 0`` means item j is a positive of anchor i,
and the value is the weight of that pair. This is where multi-class, multi-label and
hierarchical contrastive learning differ; the loss itself (:mod:`labelwise.losses.supcon`)
only sees ``W``.

Targets are either (B,) long class ids (a negative id marks an unlabelled item, which has
no positives) or (B, L) multi-hot rows (any value > 0 counts as carrying the label).
Strategies written for multi-hot targets also accept class ids, read as one-hot rows.
The result has the targets' dtype when they are floating point, else the default dtype.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import torch

PositivesFn = Callable[..., torch.Tensor]


def _float_dtype(targets: torch.Tensor) -> torch.dtype:
    return targets.dtype if targets.is_floating_point() else torch.get_default_dtype()


def _zero_diagonal(w: torch.Tensor) -> torch.Tensor:
    eye = torch.eye(w.shape[0], dtype=torch.bool, device=w.device)
    return w.masked_fill(eye, 0.0)


def _label_sets(targets: torch.Tensor) -> torch.Tensor:
    """(B,) ids or (B, L) multi-hot -> (B, L') bool, True where an item carries a label."""
    if targets.dim() == 2:
        return targets > 0
    if targets.dim() == 1 and not targets.is_floating_point():
        ids = targets.long()
        n_classes = int(ids.max().item()) + 1 if ids.numel() else 0
        rows = torch.arange(n_classes, device=ids.device).unsqueeze(0)  # (1, C)
        return ids.unsqueeze(1) == rows  # (B, C); negative ids give an empty row
    raise ValueError(
        "positives need (B,) long class ids or (B, L) multi-hot targets, got a "
        f"{tuple(targets.shape)} {targets.dtype} tensor"
    )


def _overlap(sets: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(B, L) bool -> (B, B) number of labels each pair shares."""
    y = sets.to(dtype)
    return y @ y.transpose(0, 1)


def same_class(targets: torch.Tensor) -> torch.Tensor:
    """1 for pairs with the same class, from (B,) ids or (B, L) one-hot rows.

    A negative id or an all-zero row marks an unlabelled item (no positives).

    Raises:
        ValueError: a (B, L) row carries several labels (use ``any_shared_label`` or
            ``jaccard`` for multi-label targets).
    """
    dtype = _float_dtype(targets)
    if targets.dim() == 1 and not targets.is_floating_point():
        ids = targets.long()
        w = (ids.unsqueeze(1) == ids.unsqueeze(0)) & (ids >= 0).unsqueeze(1)  # (B, B)
        return _zero_diagonal(w.to(dtype))
    sets = _label_sets(targets)
    n_labels = sets.sum(dim=1)  # (B,)
    if bool((n_labels > 1).any()):
        row = int(torch.nonzero(n_labels > 1)[0])
        raise ValueError(
            f"positives 'same_class' need one label per item, but row {row} carries "
            f"{int(n_labels[row])}; use 'any_shared_label' or 'jaccard' for multi-label targets"
        )
    return _zero_diagonal((_overlap(sets, dtype) > 0).to(dtype))


def any_shared_label(targets: torch.Tensor) -> torch.Tensor:
    """1 for pairs that share at least one label (plain multi-label SupCon)."""
    dtype = _float_dtype(targets)
    return _zero_diagonal((_overlap(_label_sets(targets), dtype) > 0).to(dtype))


def jaccard(targets: torch.Tensor) -> torch.Tensor:
    """``|Yi & Yj| / |Yi | Yj|`` for every pair; 0 where both label sets are empty."""
    dtype = _float_dtype(targets)
    sets = _label_sets(targets)
    inter = _overlap(sets, dtype)  # (B, B)
    size = sets.sum(dim=1).to(dtype)  # (B,)
    union = size.unsqueeze(1) + size.unsqueeze(0) - inter  # (B, B)
    w = torch.where(union > 0, inter / union.clamp(min=1.0), torch.zeros_like(inter))
    return _zero_diagonal(w)


def shares_label(targets: torch.Tensor, label: int) -> torch.Tensor:
    """1 for pairs that both carry label ``label`` (one MLCL head per label)."""
    sets = _label_sets(targets)
    if not 0 <= int(label) < sets.shape[1]:
        raise ValueError(
            f"positives 'shares_label': label must be a column index in [0, {sets.shape[1]}), "
            f"got {label}"
        )
    has = sets[:, int(label)].to(_float_dtype(targets))  # (B,)
    return _zero_diagonal(has.unsqueeze(1) * has.unsqueeze(0))


def same_ancestor(targets: torch.Tensor, level_cols: Sequence[int] | torch.Tensor) -> torch.Tensor:
    """1 for pairs that share a node of one hierarchy level (one MLCL head per level).

    Args:
        targets: (B, L) multi-hot over every node of the hierarchy, ancestors included.
        level_cols: the column indices of the level's nodes.
    """
    if targets.dim() != 2:
        raise ValueError(
            "positives 'same_ancestor' need (B, L) multi-hot targets over the hierarchy's "
            f"nodes (ancestors included), got shape {tuple(targets.shape)}"
        )
    cols = torch.as_tensor(level_cols, dtype=torch.long, device=targets.device)
    if cols.numel() == 0 or int(cols.min()) < 0 or int(cols.max()) >= targets.shape[1]:
        raise ValueError(
            f"positives 'same_ancestor': level_cols must be non-empty indices in "
            f"[0, {targets.shape[1]}), got {cols.tolist()[:10]}"
        )
    return any_shared_label(targets.index_select(1, cols))


POSITIVES: dict[str, PositivesFn] = {
    "same_class": same_class,
    "any_shared_label": any_shared_label,
    "jaccard": jaccard,
    "shares_label": shares_label,
    "same_ancestor": same_ancestor,
}


def default_strategy(targets: torch.Tensor) -> str:
    """``same_class`` for (B,) class ids, ``any_shared_label`` for (B, L) multi-hot."""
    return "same_class" if targets.dim() == 1 else "any_shared_label"


def positive_weights(strategy: str, targets: torch.Tensor, **kwargs: Any) -> torch.Tensor:
    """The (B, B) weights of ``strategy`` ("auto" or a key of :data:`POSITIVES`).

    Extra keyword arguments go to the strategy (``label`` for ``shares_label``,
    ``level_cols`` for ``same_ancestor``).
    """
    if strategy == "auto":
        strategy = default_strategy(targets)
    fn = POSITIVES.get(strategy)
    if fn is None:
        close = difflib.get_close_matches(strategy, POSITIVES, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"unknown positives strategy {strategy!r}.{hint} Valid: auto, "
            f"{', '.join(POSITIVES)}"
        )
    try:
        inspect.signature(fn).bind(targets, **kwargs)
    except TypeError:
        wanted = list(inspect.signature(fn).parameters)[1:]
        raise TypeError(
            f"positives {strategy!r} take the arguments ({', '.join(wanted) or 'none'}) "
            f"besides the targets, got ({', '.join(kwargs) or 'none'})"
        ) from None
    return fn(targets, **kwargs)
