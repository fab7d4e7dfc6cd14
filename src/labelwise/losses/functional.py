"""Pure tensor functions behind the classification losses.

Every function takes raw ``logits`` (B, L) and never calls ``sigmoid`` followed by ``log``:
log-probabilities come from ``logsigmoid`` / ``log_softmax``, so logits of +-100 give finite
losses and gradients in float32. ``reduction`` is ``"mean"`` (over every element),
``"sum"`` or ``"none"`` (the element-wise (B, L) tensor).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

_REDUCTIONS = ("mean", "sum", "none")


def reduce_loss(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    """Apply ``reduction`` ("mean" | "sum" | "none") to an element-wise loss."""
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def class_ids_from_multi_hot(targets: torch.Tensor) -> torch.Tensor:
    """(B, L) multi-hot with exactly one positive per row -> (B,) long class ids.

    Raises:
        ValueError: when some row has zero or several positives (a multi-label batch).
    """
    if targets.dim() != 2:
        raise ValueError(f"expected (B, L) multi-hot targets, got shape {tuple(targets.shape)}")
    n_pos = (targets != 0).sum(dim=1)  # (B,)
    bad = torch.nonzero(n_pos != 1).flatten()
    if bad.numel() > 0:
        row = int(bad[0])
        raise ValueError(
            "cross-entropy needs exactly one positive label per row; got "
            f"{bad.numel()} row(s) without (row {row} has {int(n_pos[row])} positives). "
            "For multi-label targets use the 'bce', 'focal' or 'asl' loss instead."
        )
    return targets.argmax(dim=1)


def as_multi_hot(targets: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Targets as a float (B, L) tensor like ``logits``; (B,) class ids become one-hot."""
    if targets.dim() == 1 and not targets.is_floating_point():
        return F.one_hot(targets.long(), logits.shape[1]).to(logits.dtype)
    if targets.shape != logits.shape:
        raise ValueError(
            f"expected targets of shape {tuple(logits.shape)} (multi-hot, like the logits) "
            f"or ({logits.shape[0]},) class ids, got {tuple(targets.shape)}"
        )
    return targets.to(logits.dtype)


def balanced_class_weights(counts: torch.Tensor) -> torch.Tensor:
    """scikit-learn's "balanced" weights ``n / (C * count_c)``; unseen classes count as 1."""
    counts = counts.double().clamp(min=1.0)
    return counts.sum() / (counts.numel() * counts)


def balanced_pos_weight(counts: torch.Tensor, num_examples: int, max_weight: float) -> torch.Tensor:
    """Per-label ``negatives / positives`` from training counts, clipped to [1, max_weight]."""
    pos = counts.double().clamp(min=1.0)
    return ((num_examples - pos) / pos).clamp(min=1.0, max=max_weight)


def cross_entropy(
    logits: torch.Tensor,
    targets: torch.Tensor,
    label_smoothing: float = 0.0,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Softmax cross-entropy of (B, L) logits against (B,) class ids."""
    return F.cross_entropy(
        logits, targets, weight=weight, label_smoothing=label_smoothing, reduction=reduction
    )


def binary_cross_entropy(
    logits: torch.Tensor,
    targets: torch.Tensor,
    pos_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Sigmoid binary cross-entropy of (B, L) logits against (B, L) targets in [0, 1]."""
    loss = F.binary_cross_entropy_with_logits(
        logits, targets, pos_weight=pos_weight, reduction="none"
    )
    return reduce_loss(loss, reduction)


def _safe_pow(base: torch.Tensor, exponent: float) -> torch.Tensor:
    """``base ** exponent`` for base >= 0 whose gradient stays finite at base == 0."""
    if exponent == 0:
        return torch.ones_like(base)
    tiny = torch.finfo(base.dtype).tiny
    return torch.where(base > 0, base.clamp(min=tiny) ** exponent, torch.zeros_like(base))


def focal_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    gamma: float = 2.0,
    alpha: float | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Sigmoid focal loss (Lin et al. 2017): ``-alpha_t (1 - p_t)^gamma log p_t`` per element.

    ``p_t`` is the probability given to the target; soft targets ``y`` in [0, 1] use
    ``1 - p_t = y (1 - p) + (1 - y) p``. The modulating factor is computed in log space,
    so it stays exact and differentiable when ``p`` saturates. ``gamma=0`` with
    ``alpha=None`` is exactly :func:`binary_cross_entropy`.
    """
    bce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    if gamma != 0:
        # log(1 - p_t) = log(y * sigmoid(-z) + (1 - y) * sigmoid(z))
        log_one_minus_pt = torch.logaddexp(
            torch.log(targets) + F.logsigmoid(-logits),
            torch.log1p(-targets) + F.logsigmoid(logits),
        )
        bce = torch.exp(gamma * log_one_minus_pt) * bce
    if alpha is not None:
        bce = (alpha * targets + (1.0 - alpha) * (1.0 - targets)) * bce
    return reduce_loss(bce, reduction)


def asymmetric_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    gamma_pos: float = 0.0,
    gamma_neg: float = 4.0,
    clip: float = 0.05,
    eps: float = 1e-8,
    reduction: str = "mean",
) -> torch.Tensor:
    """Asymmetric loss (Ridnik et al. 2021) for multi-label targets.

    Positives: ``-(1 - p)^gamma_pos log p``. Negatives use the shifted probability
    ``p_m = max(p - clip, 0)``: ``-p_m^gamma_neg log(1 - p_m)``, which discards easy
    negatives (``p < clip``) entirely. ``log p`` is ``logsigmoid`` (exact); the argument of
    ``log(1 - p_m)`` is floored at ``eps``. With ``gamma_pos = gamma_neg = clip = 0`` this is
    exactly :func:`binary_cross_entropy`.
    """
    log_p = F.logsigmoid(logits)
    if clip > 0:
        one_minus_pm = (torch.sigmoid(-logits) + clip).clamp(max=1.0)
        log_one_minus_pm = torch.log(one_minus_pm.clamp(min=eps))
        p_m = (torch.sigmoid(logits) - clip).clamp(min=0.0)
    else:
        log_one_minus_pm = F.logsigmoid(-logits)
        p_m = torch.sigmoid(logits)
    w_pos = torch.exp(gamma_pos * F.logsigmoid(-logits)) if gamma_pos != 0 else 1.0
    w_neg = _safe_pow(p_m, gamma_neg)
    loss = -(targets * w_pos * log_p + (1.0 - targets) * w_neg * log_one_minus_pm)
    return reduce_loss(loss, reduction)


def hierarchical_softmax_loss(
    logits: torch.Tensor, targets: torch.Tensor, levels: Sequence[torch.Tensor]
) -> torch.Tensor:
    """Per-level softmax cross-entropy, averaged over levels.

    Each level is the long tensor of its label indices; the level's logits are restricted
    to those columns and soft-maxed among themselves. A row with no positive at a level
    does not count at that level; a level with no such row is left out of the average;
    when nothing counts the loss is 0 (still attached to the graph, never NaN). A row with
    several positives at a level is scored against their uniform distribution.

    Args:
        logits: (B, L) scores over every label of the hierarchy.
        targets: (B, L) multi-hot, ancestors included.
        levels: one (n_k,) long index tensor per level.
    """
    level_losses, level_valid = [], []
    for idx in levels:
        lvl_logits = logits.index_select(1, idx)  # (B, n_k)
        lvl_targets = targets.index_select(1, idx).to(logits.dtype)  # (B, n_k)
        mass = lvl_targets.sum(dim=1)  # (B,)
        has_pos = mass > 0
        dist = lvl_targets / mass.clamp(min=1e-12).unsqueeze(1)
        log_probs = F.log_softmax(lvl_logits, dim=1)
        terms = torch.where(dist > 0, dist * log_probs, torch.zeros_like(log_probs))
        row_loss = -terms.sum(dim=1)  # (B,)
        n_rows = has_pos.sum()
        level_losses.append((row_loss * has_pos).sum() / n_rows.clamp(min=1))
        level_valid.append(n_rows > 0)
    if not level_losses:
        raise ValueError("hierarchical_softmax_loss needs at least one level, got none")
    losses = torch.stack(level_losses)  # (K,)
    valid = torch.stack(level_valid).to(losses.dtype)  # (K,)
    return (losses * valid).sum() / valid.sum().clamp(min=1.0)
