"""Ranking measures and the LambdaRank loss: pure tensor functions of the L2R model.

Relevance grades: within a label's MIG list (sorted by decreasing MIG, length ``n``), the
token at 0-based rank ``r`` gets the integer grade ``num_grades - floor(r * num_grades / n)``,
so the top ``1 / num_grades`` of the list has grade ``num_grades`` and the bottom part grade
1; tokens outside the list have grade 0. NDCG uses the gain ``2 ** grade - 1``. Rank-based
grades make every label's list look alike, whatever the scale of its MI values (which grows
with the label's frequency).

LambdaRank loss of one list: for every pair (i, j) of valid items with ``rel_i > rel_j``,

    |delta NDCG@k (i, j)| * log(1 + exp(-sigma (s_i - s_j)))

where ``delta NDCG@k`` is the change of NDCG@k when i and j swap places in the ranking by the
current scores. The weights are computed from detached scores, so they are constants for
autograd: the gradient is that of this weighted RankNet loss (the usual LambdaRank "lambdas").
A list's loss is the sum over its pairs; the batch loss is the mean over lists that have at
least one such pair.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def _valid_mask(scores: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:
        return torch.ones_like(scores, dtype=torch.bool)
    if mask.shape != scores.shape:
        raise ValueError(f"mask shape {tuple(mask.shape)} != scores shape {tuple(scores.shape)}")
    return mask.to(torch.bool)


def gains(relevance: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """(B, n) gains ``2 ** rel - 1``, 0 at padded entries."""
    return torch.where(valid, torch.exp2(relevance) - 1.0, torch.zeros_like(relevance))


def rank_positions(scores: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """(B, n) long: 0-based position of each item when the list is sorted by decreasing score.

    Padded items come after every valid one; ties keep the input order (stable sort).
    """
    key = torch.where(valid, scores.detach(), torch.full_like(scores, -math.inf))
    # by decreasing score, then a stable sort that moves the padded entries to the end
    order = torch.sort(key, dim=1, descending=True, stable=True).indices
    valid_first = torch.sort((~valid).gather(1, order).to(torch.int8), dim=1, stable=True).indices
    order = order.gather(1, valid_first)
    pos = torch.empty_like(order)
    pos.scatter_(1, order, torch.arange(order.shape[1], device=order.device).expand_as(order))
    return pos


def _discounts(positions: torch.Tensor, k: int, dtype: torch.dtype) -> torch.Tensor:
    """1 / log2(position + 2) for positions < k, else 0."""
    pos = positions.to(dtype)
    disc = 1.0 / torch.log2(pos + 2.0)
    return torch.where(positions < k, disc, torch.zeros_like(disc))


def ideal_dcg(relevance: torch.Tensor, k: int, mask: torch.Tensor | None = None) -> torch.Tensor:
    """(B,) DCG@k of the best ordering of each list (over valid entries only)."""
    valid = _valid_mask(relevance, mask)
    g = gains(relevance, valid)
    top = torch.sort(g, dim=1, descending=True).values[:, :k]
    disc = 1.0 / torch.log2(torch.arange(top.shape[1], device=g.device, dtype=g.dtype) + 2.0)
    return (top * disc).sum(dim=1)


def ndcg_at_k(
    scores: torch.Tensor,
    relevance: torch.Tensor,
    k: int,
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """NDCG@k of each list ranked by ``scores``.

    Args:
        scores: (B, n) model scores.
        relevance: (B, n) graded relevance (gain ``2 ** rel - 1``).
        k: cut-off.
        mask: (B, n) bool, True for real entries; padded entries never count.
        reduction: ``"mean"`` -> scalar mean over lists whose ideal DCG@k is > 0 (NaN if
            there is none); ``"none"`` -> (B,) with NaN for lists of zero ideal DCG.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    valid = _valid_mask(scores, mask)
    rel = relevance.to(scores.dtype)
    g = gains(rel, valid)
    disc = _discounts(rank_positions(scores, valid), k, scores.dtype)
    dcg = (g * disc).sum(dim=1)
    idcg = ideal_dcg(rel, k, valid)
    per_list = torch.where(idcg > 0, dcg / torch.where(idcg > 0, idcg, 1.0),
                           torch.full_like(dcg, math.nan))
    if reduction == "none":
        return per_list
    if reduction != "mean":
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    ok = idcg > 0
    if not bool(ok.any()):
        return torch.full((), math.nan, dtype=scores.dtype, device=scores.device)
    return per_list[ok].mean()


def lambda_weights(
    scores: torch.Tensor, relevance: torch.Tensor, k: int, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """(B, n, n) detached weights ``|delta NDCG@k|`` for the ordered pairs with
    ``rel_i > rel_j`` (both valid), 0 elsewhere.

    Swapping items i and j changes DCG@k by ``(g_i - g_j) (d_j - d_i)`` where ``d`` is the
    discount at each item's current position (0 beyond k), hence the closed form.
    """
    valid = _valid_mask(scores, mask)
    rel = relevance.to(scores.dtype)
    g = gains(rel, valid)
    disc = _discounts(rank_positions(scores, valid), k, scores.dtype)
    idcg = ideal_dcg(rel, k, valid)
    inv = torch.where(idcg > 0, 1.0 / torch.where(idcg > 0, idcg, 1.0), torch.zeros_like(idcg))
    delta = (g[:, :, None] - g[:, None, :]).abs() * (disc[:, :, None] - disc[:, None, :]).abs()
    pairs = (rel[:, :, None] > rel[:, None, :]) & valid[:, :, None] & valid[:, None, :]
    return torch.where(pairs, delta * inv[:, None, None], torch.zeros_like(delta)).detach()


def lambdarank_loss(
    scores: torch.Tensor,
    relevance: torch.Tensor,
    k: int,
    sigma: float = 0.5,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """LambdaRank loss of a padded batch of lists (scalar).

    Args:
        scores: (B, n) scores (differentiable).
        relevance: (B, n) graded relevance (gain ``2 ** rel - 1``).
        k: NDCG cut-off of the pair weights.
        sigma: RankNet steepness.
        mask: (B, n) bool, True for real entries.

    For every pair (i, j) with ``rel_i > rel_j``: ``softplus(-sigma (s_i - s_j))`` weighted
    by the detached ``|delta NDCG@k|`` of swapping them (:func:`lambda_weights`). Each list
    sums its pairs; the result is the mean over the lists that have at least one pair with
    ``rel_i > rel_j`` (0, still differentiable, if none has).
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    valid = _valid_mask(scores, mask)
    weights = lambda_weights(scores, relevance, k, valid)
    diff = scores[:, :, None] - scores[:, None, :]
    pair_loss = F.softplus(-sigma * diff) * weights
    rel = relevance.to(scores.dtype)
    has_pair = ((rel[:, :, None] > rel[:, None, :]) & valid[:, :, None] & valid[:, None, :])
    lists = has_pair.flatten(1).any(dim=1)
    count = lists.sum()
    if int(count) == 0:
        return scores.sum() * 0.0
    return pair_loss.sum(dim=(1, 2))[lists].sum() / count


def rank_grades(lengths: np.ndarray, num_grades: int) -> np.ndarray:
    """Integer grades for concatenated lists sorted by decreasing MIG.

    ``lengths`` (L,) list lengths; returns (sum(lengths),) float32 where the item at rank
    ``r`` of a list of length ``n`` has grade ``num_grades - floor(r * num_grades / n)``
    (from ``num_grades`` down to 1).
    """
    if num_grades < 1:
        raise ValueError(f"num_grades must be >= 1, got {num_grades}")
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    ranks = np.arange(total, dtype=np.int64) - starts
    n = np.repeat(lengths, lengths)
    return (num_grades - (ranks * num_grades) // np.maximum(n, 1)).astype(np.float32)


# --------------------------------------------------------------------------- the model
