"""``abalone``: contrastive learning for long-tailed multi-label classification (seed 004).

Pure tensor function :func:`abalone_loss` plus the module that owns the label prototypes,
the memory queue and the momentum copy of the model that fills it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from labelwise import distributed
from labelwise.losses.base import Loss
from labelwise.losses.memory import MemoryQueue, MomentumCopy
from labelwise.models.documents import forward_docs
from labelwise.registry import LOSSES
from labelwise.types import Batch, LossOutput, ModelOutput


def abalone_loss(
    z: torch.Tensor,
    y: torch.Tensor,
    queue_z: torch.Tensor | None = None,
    queue_y: torch.Tensor | None = None,
    prototypes: torch.Tensor | None = None,
    temperature: float = 0.1,
    alpha: float = 1.0,
    beta: float = 0.1,
    labelwise: bool = True,
) -> torch.Tensor:
    """ABALONE's loss for a batch of normalised embeddings.

    Candidates of anchor i are the other batch rows and the queue entries. With
    ``s = z_i . c / tau`` and ``denom_i = sum_prototypes exp(s) + beta * sum_candidates exp(s)``,
    each positive p costs ``l_ip = log denom_i - s_ip``. Label-wise attraction: for every
    label l of the anchor, its positives are the prototype P_l (weight 1) and the candidates
    carrying l (weight ``alpha`` each); the anchor's loss is the mean over its labels of the
    weighted mean over that label's positives. Without label-wise attraction the positives
    are every candidate sharing any label (weight alpha) and the prototypes of the anchor's
    labels (weight 1), in one weighted mean. Anchors without labels, or without any
    positive, are skipped; a batch with none gives 0, attached to the graph.

    Args:
        z: (N, p) anchors, unit norm.
        y: (N, L) multi-hot labels of the anchors.
        queue_z, queue_y: (K, p) and (K, L) past embeddings and labels (no gradient), or None.
        prototypes: (L, p) unit-norm label prototypes, or None (no prototype terms).
        temperature: tau.
        alpha: weight of an instance positive relative to the prototype.
        beta: weight of an instance in the denominator (repulsion re-weighting; 1 = off).
        labelwise: iterate attraction over each label of the anchor.

    Returns:
        Scalar mean over anchors with at least one positive.
    """
    n = z.shape[0]
    yb = (y > 0).to(z.dtype)  # (N, L)
    cand_z, cand_y = z, yb
    if queue_z is not None and queue_z.shape[0] > 0:
        assert queue_y is not None
        cand_z = torch.cat([z, queue_z.to(z.dtype)])  # (N+K, p)
        cand_y = torch.cat([yb, (queue_y > 0).to(z.dtype)])  # (N+K, L)
    m = cand_z.shape[0]
    self_mask = torch.zeros(n, m, dtype=torch.bool, device=z.device)
    self_mask[:, :n] = torch.eye(n, dtype=torch.bool, device=z.device)
    s_inst = (z @ cand_z.T / temperature).masked_fill(self_mask, float("-inf"))  # (N, M)
    terms = [s_inst + math.log(beta)]
    s_proto = None
    if prototypes is not None:
        s_proto = z @ prototypes.T / temperature  # (N, L)
        terms.append(s_proto)
    log_denom = torch.logsumexp(torch.cat(terms, dim=1), dim=1, keepdim=True)  # (N, 1)
    l_inst = (log_denom - s_inst).masked_fill(self_mask, 0.0)  # (N, M), 0 on self
    not_self = (~self_mask).to(z.dtype)
    if labelwise:
        # per (anchor, label): sum over candidates carrying the label, and how many there are
        inst_sum = l_inst @ cand_y  # (N, L)
        inst_cnt = not_self @ cand_y  # (N, L)
        num, den = alpha * inst_sum, alpha * inst_cnt
        if s_proto is not None:
            num, den = num + (log_denom - s_proto), den + 1.0
        per_label = num / den.clamp_min(1e-12)  # (N, L)
        valid = (yb > 0) & (den > 0)  # (N, L)
        n_valid = valid.sum(dim=1)  # (N,)
        per_anchor = (per_label * valid).sum(dim=1) / n_valid.clamp_min(1)
        has = n_valid > 0
    else:
        shared = ((yb @ cand_y.T) > 0).to(z.dtype) * not_self  # (N, M)
        num, den = alpha * (shared * l_inst).sum(dim=1), alpha * shared.sum(dim=1)
        if s_proto is not None:
            num = num + (yb * (log_denom - s_proto)).sum(dim=1)
            den = den + yb.sum(dim=1)
        per_anchor = num / den.clamp_min(1e-12)
        has = (den > 0) & (yb.sum(dim=1) > 0)
    if not bool(has.any()):
        return z.sum() * 0.0
    return per_anchor[has].mean()


@LOSSES.register("abalone")
class AbaloneLoss(Loss):
    """Long-tail multi-label contrastive loss with label prototypes and a memory queue.

    Requirements:
        A projection head (``output.embeddings``); multi-hot targets (multi-label,
        hierarchical or extreme tasks). ``setup`` builds the prototypes and the queue;
        the trainer attaches the momentum copy of the model and calls the step hooks.

    Inputs:
        ``output.embeddings`` (B, p) or (2B, p) for two dropout views with targets
        repeated; targets (B, L) multi-hot.

    Relations:
        With ``queue_size: 0, prototypes: false, beta: 1, labelwise: false`` it is SupCon
        with ``any_shared_label`` positives. Beside BCE through ``combined`` for joint
        training.

    Config:
        temperature: tau (0.1).
        alpha: weight of an instance positive against the prototype (1.0).
        beta: weight of instances in the denominator, the repulsion re-weighting (0.1).
        prototypes: learn one prototype per label (ablation: false).
        labelwise: label-wise attraction (ablation: false).
        queue_size: entries in the memory queue (0 = no queue).
        momentum: EMA rate of the copy of the model that fills the queue (0.999).

    Under ``torch.distributed`` the embeddings and targets of every process are gathered
    before the loss (each anchor meets the whole global batch), and the keys of every
    process are queued in rank order, so every process holds the queue one process would.
    """

    name: ClassVar[str] = "abalone"
    supported_tasks: ClassVar[tuple[str, ...]] = ("multilabel", "hierarchical", "extreme")
    needs_embeddings = True
    contrastive = True

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        temperature: float = Field(0.1, gt=0)
        alpha: float = Field(1.0, ge=0)
        beta: float = Field(0.1, gt=0, le=1)
        prototypes: bool = True
        labelwise: bool = True
        queue_size: int = Field(1024, ge=0)
        momentum: float = Field(0.999, ge=0, lt=1)

    def __init__(self, config: Config | None = None) -> None:
        super().__init__()
        self.config = config if config is not None else self.Config()
        self.prototypes: nn.Parameter | None = None
        self.queue: MemoryQueue | None = None
        self.momentum: MomentumCopy | None = None
        self._keys: tuple[torch.Tensor, torch.Tensor] | None = None

    def setup(self, info: Mapping[str, Any]) -> None:
        """``info`` has ``num_labels`` and ``embed_dim`` (the projection width)."""
        if info.get("task") == "multiclass":
            raise ValueError("loss 'abalone' is for multi-label tasks; use 'supcon' for multi-class")
        num_labels, dim = int(info["num_labels"]), int(info.get("embed_dim") or 0)
        if dim < 1:
            raise ValueError("loss 'abalone' needs the projection width (info['embed_dim'])")
        c = self.config
        if c.prototypes:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(info.get("seed", 0)))
                self.prototypes = nn.Parameter(F.normalize(torch.randn(num_labels, dim), dim=1))
        if c.queue_size > 0:
            self.queue = MemoryQueue(c.queue_size, dim, num_labels)
            self.momentum = MomentumCopy(c.momentum)

    # ---- trainer hooks: the momentum copy embeds each batch; keys are queued after the step
    def attach(self, model: nn.Module) -> None:
        if self.momentum is not None:
            self.momentum.attach(model)

    @torch.no_grad()
    def before_loss(self, batch: Batch) -> None:
        if self.momentum is None or self.momentum.model is None or batch.targets is None:
            return
        keys = forward_docs(self.momentum.model, batch).embeddings
        if keys is None:
            raise ValueError("loss 'abalone': the model has no projection head (embeddings)")
        self._keys = (F.normalize(keys.float(), dim=1), batch.targets.float())

    def after_step(self, model: nn.Module) -> None:
        if self.momentum is not None and self.momentum.model is not None:
            self.momentum.update(model)
        if self.queue is not None and self._keys is not None:
            self.queue.enqueue(*self._keys)  # gathered from every process inside
        self._keys = None

    def forward(self, output: ModelOutput, targets: torch.Tensor) -> LossOutput:
        z = output.embeddings
        if z is None:
            raise ValueError("loss 'abalone' needs output.embeddings: add a projection head "
                             "(model.projection) or let the trainer add the default one")
        if targets.dim() != 2 or z.shape[0] != targets.shape[0]:
            raise ValueError(f"loss 'abalone' needs (B, L) multi-hot targets, one row per "
                             f"embedding; got targets {tuple(targets.shape)}, embeddings {tuple(z.shape)}")
        z, targets, grad_factor = distributed.gather_for_contrast(z, targets)  # global batch
        qz = qy = None
        if self.queue is not None:
            qz, qy = self.queue.contents()
        protos = None
        if self.prototypes is not None:
            # every process computes the whole batch's loss, so each gets the prototypes'
            # full gradient: 1 / P undoes the trainer's P (see labelwise.distributed)
            protos = F.normalize(distributed.scale_grad(self.prototypes, 1.0 / distributed.world_size()), dim=1)
        c = self.config
        total = abalone_loss(F.normalize(z, dim=1), targets, qz, qy, protos, c.temperature,
                             c.alpha, c.beta, c.labelwise)
        return LossOutput(total=distributed.scale_grad(total, grad_factor), parts={self.name: total.detach()})
