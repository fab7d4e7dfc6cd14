"""Supervised contrastive loss (Khosla et al. 2020) with pluggable, weighted positives.

The core is the pure function :func:`supcon_loss` of embeddings and a positive-weight
matrix; which pairs are positives is decided by :mod:`labelwise.losses.positives` and how
they are compared by :mod:`labelwise.losses.similarity`. :class:`SupConLoss` (registered
as ``supcon``) only picks its inputs out of the model output and the targets.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from labelwise.distributed import gather_for_contrast, scale_grad
from labelwise.losses.base import Loss
from labelwise.losses.classification import ALL_TASKS
from labelwise.losses.functional import reduce_loss
from labelwise.losses.positives import positive_weights
from labelwise.losses.similarity import SimilarityFn, get_similarity
from labelwise.registry import LOSSES
from labelwise.types import LossOutput, ModelOutput


def two_view_weights(weights: torch.Tensor) -> torch.Tensor:
    """Expand (B, B) positive weights to the (2B, 2B) weights of two stacked views.

    Rows ``0..B-1`` are the first view of each item and rows ``B..2B-1`` the second, in
    the same order (``torch.cat([z1, z2])``). Pairs of different items keep their weight
    across and within views; each item's other view is a positive with weight 1.
    """
    b = weights.shape[0]
    eye = torch.eye(b, dtype=torch.bool, device=weights.device)
    cross = weights.masked_fill(eye, 1.0)  # (B, B): other view of the same item = 1
    top = torch.cat([weights, cross], dim=1)  # (B, 2B)
    bottom = torch.cat([cross, weights], dim=1)  # (B, 2B)
    out = torch.cat([top, bottom], dim=0)  # (2B, 2B)
    return out.masked_fill(torch.eye(2 * b, dtype=torch.bool, device=weights.device), 0.0)


def supcon_loss(
    z: torch.Tensor,
    weights: torch.Tensor,
    temperature: float = 0.1,
    reduction: str = "mean",
    similarity: str | SimilarityFn = "cosine",
) -> torch.Tensor:
    """SupCon ("L_out" form) with weighted positives.

    For anchor i, with ``s = similarity(z, z) / temperature`` and ``W = weights``::

        loss_i = - sum_j W_ij * log( exp(s_ij) / sum_{k != i} exp(s_ik) ) / sum_j W_ij

    computed with a log-sum-exp whose diagonal is masked to ``-inf``. Anchors without a
    positive (``sum_j W_ij == 0``) are skipped. With 0/1 weights this is Khosla et al.'s
    loss; for two dropout views stack them in ``z`` and pass :func:`two_view_weights`.

    Args:
        z: (N, p) embeddings (normalised inside when ``similarity`` is "cosine").
        weights: (N, N) non-negative positive weights; the diagonal is ignored.
        temperature: ``tau`` > 0.
        reduction: "mean" over anchors with a positive, "sum" over them, or "none" for the
            (N,) per-anchor losses (0 for skipped anchors).
        similarity: "cosine", "dot" or a function ``(a, b) -> (N, N)``.

    Returns:
        The reduced loss. When no anchor has a positive, a zero still attached to the
        graph of ``z`` (never NaN).
    """
    if z.dim() != 2:
        raise ValueError(f"supcon_loss expects (N, p) embeddings, got shape {tuple(z.shape)}")
    n = z.shape[0]
    if weights.shape != (n, n):
        raise ValueError(
            f"supcon_loss expects ({n}, {n}) positive weights for {n} embeddings, got "
            f"{tuple(weights.shape)}; for two stacked views use two_view_weights(W)"
        )
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    sim_fn = get_similarity(similarity) if isinstance(similarity, str) else similarity
    eye = torch.eye(n, dtype=torch.bool, device=z.device)
    logits = (sim_fn(z, z) / temperature).masked_fill(eye, float("-inf"))  # (N, N)
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)  # (N, N), -inf on diag
    log_prob = log_prob.masked_fill(eye, 0.0)  # no 0 * -inf below
    w = weights.to(device=z.device, dtype=log_prob.dtype).masked_fill(eye, 0.0)
    mass = w.sum(dim=1)  # (N,)
    has_pos = mass > 0
    per_anchor = -(w * log_prob).sum(dim=1) / mass.clamp(min=torch.finfo(mass.dtype).tiny)
    per_anchor = torch.where(has_pos, per_anchor, torch.zeros_like(per_anchor))  # (N,)
    if reduction == "mean":
        if not bool(has_pos.any()):
            return z.sum() * 0.0
        return per_anchor.sum() / has_pos.sum()
    return reduce_loss(per_anchor, reduction)


@LOSSES.register("supcon")
class SupConLoss(Loss):
    """Supervised contrastive loss on the model's projection embeddings.

    Requirements:
        A model with a projection head, so that ``output.embeddings`` is set. Any task:
        positives come from the targets through a strategy of
        :mod:`labelwise.losses.positives`. A batch where no item has a positive gives 0.

    Inputs:
        ``output.embeddings`` (B, p), or (2B, p) for two views of each document stacked
        as ``[view 1; view 2]`` (each item's other view then counts as a positive);
        targets (B,) class ids or (B, L) multi-hot. ``output.logits`` is not used.

    Relations:
        Used beside a classification loss through ``combined``, e.g.
        ``{name: combined, parts: [{name: ce}, {name: supcon, weight: 0.2}]}``. With
        ``positives: jaccard`` it is the Jaccard-weighted SupCon baseline of ABALONE; MLCL
        sums one such loss per head with its own positives (``shares_label``,
        ``same_ancestor``) through :func:`supcon_loss`.

    Under ``torch.distributed`` the embeddings and targets of every process are gathered
    first, so each anchor is contrasted with the whole global batch, as in one process.

    Config:
        temperature: ``tau`` (0.1 as in the papers).
        positives: "auto" (``same_class`` for (B,) ids, ``any_shared_label`` for
            multi-hot), "same_class", "any_shared_label" or "jaccard".
        similarity: "cosine" (embeddings normalised inside) or "dot".
    """

    name: ClassVar[str] = "supcon"
    supported_tasks: ClassVar[tuple[str, ...]] = ALL_TASKS
    needs_embeddings = True
    contrastive = True

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        temperature: float = Field(0.1, gt=0.0)
        positives: Literal["auto", "same_class", "any_shared_label", "jaccard"] = "auto"
        similarity: Literal["cosine", "dot"] = "cosine"

    def __init__(self, config: Config | None = None) -> None:
        super().__init__()
        self.config = config if config is not None else self.Config()

    def forward(self, output: ModelOutput, targets: torch.Tensor) -> LossOutput:
        z = output.embeddings
        if z is None:
            raise ValueError(
                "loss 'supcon' needs output.embeddings, got None: contrastive losses need a "
                "model with a projection head (embeddings); enable the projection in the "
                "model config or drop the 'supcon' part"
            )
        b = targets.shape[0]
        if z.shape[0] not in (b, 2 * b):
            raise ValueError(
                f"loss 'supcon': embeddings have {z.shape[0]} rows for {b} targets; expected "
                f"{b} (one view) or {2 * b} (two views stacked as [view 1; view 2])"
            )
        views = z.shape[0] // b
        z, targets, grad_factor = gather_for_contrast(z, targets, views)  # the global batch
        weights = positive_weights(self.config.positives, targets)  # (B, B)
        if views == 2:
            weights = two_view_weights(weights)  # (2B, 2B)
        c = self.config
        total = supcon_loss(z, weights, c.temperature, similarity=c.similarity)
        return LossOutput(total=scale_grad(total, grad_factor), parts={self.name: total.detach()})
