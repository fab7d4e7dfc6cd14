"""``mlcl``: multi-level supervised contrastive learning (seed 001).

K projection heads share one encoder; head k maps the pooled vector to its own space and
is trained with SupCon under its own positives and temperature:

    loss = sum_k w_k * SupCon(g_k(pooled), positives_k, tau_k)

The heads belong to the loss (they are trained with the model and dropped afterwards,
like SimCLR's projection), so any encoder can be used unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from labelwise.config import ProjectionConfig
from labelwise.distributed import gather_for_contrast, scale_grad
from labelwise.losses.base import Loss
from labelwise.losses.classification import ALL_TASKS
from labelwise.losses.positives import positive_weights
from labelwise.losses.supcon import supcon_loss
from labelwise.models.projection import ProjectionHead
from labelwise.registry import LOSSES
from labelwise.types import LossOutput, ModelOutput


class HeadSpec(BaseModel):
    """One projection head: which pairs are its positives, its temperature and weight."""

    model_config = ConfigDict(extra="forbid")

    positives: Literal["same_class", "any_shared_label", "jaccard", "shares_label", "same_ancestor"]
    level: int | None = Field(None, ge=1, description="same_ancestor: hierarchy level, 1 = top")
    label: int | None = Field(None, ge=0, description="shares_label: the label's column")
    temperature: float = Field(0.1, gt=0)
    weight: float = Field(1.0, ge=0)


@LOSSES.register("mlcl")
class MLCLLoss(Loss):
    """Multi-level supervised contrastive loss: one SupCon term per projection head.

    Requirements:
        The model's pooled vector (every model has one). Heads are built by ``setup``,
        which needs the pooled width and, for per-level heads, the hierarchy's levels.

    Inputs:
        ``output.pooled`` (B, d), or (2B, d) with targets repeated for two dropout views
        (the trainer does this); targets (B,) class ids or (B, L) multi-hot.

    Relations:
        A single head with ``same_class`` / ``any_shared_label`` positives is ``supcon``
        on its own projection. Used beside a classification loss through ``combined``:
        ``{name: combined, parts: [{name: bce}, {name: mlcl, weight: 0.2}]}``.

    Config:
        heads: "per_level" (hierarchical: head k's positives share the ancestor at level k),
            "per_label" (multi-label: head l's positives both carry label l), "single" (one
            head: same class, or the same node at the deepest level, or any shared label),
            "auto" (per_level for hierarchies, per_label for multi-label, single for
            multi-class), or an explicit list of :class:`HeadSpec`.
        temperature: tau of the generated heads (an explicit list sets its own).
        projection: width and depth of every head.
        similarity: "cosine" or "dot".

    Anchors without a positive under a head are skipped for that head; a head whose
    batch has no positive pair adds 0, never NaN. ``parts`` reports each head's term.
    Under ``torch.distributed`` each process projects its own rows and the projections
    and targets of every process are gathered, so each head contrasts the whole global
    batch, as in one process.
    """

    name: ClassVar[str] = "mlcl"
    supported_tasks: ClassVar[tuple[str, ...]] = ALL_TASKS
    contrastive = True

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        heads: Literal["auto", "per_level", "per_label", "single"] | list[HeadSpec] = "auto"
        temperature: float = Field(0.1, gt=0)
        projection: ProjectionConfig = Field(default_factory=ProjectionConfig)
        similarity: Literal["cosine", "dot"] = "cosine"

    def __init__(self, config: Config | None = None) -> None:
        super().__init__()
        self.config = config if config is not None else self.Config()
        self.specs: list[HeadSpec] = []
        self.level_cols: list[list[int]] = []
        self.heads = nn.ModuleList()

    def setup(self, info: Mapping[str, Any]) -> None:
        """Build the heads for this task: ``info`` has ``task``, ``num_labels``,
        ``pooled_dim`` and, for hierarchies, ``levels`` (column ids per level)."""
        if "pooled_dim" not in info:
            raise ValueError("loss 'mlcl' needs the model's pooled width (info['pooled_dim'])")
        self.level_cols = [list(map(int, cols)) for cols in (info.get("levels") or [])]
        self.specs = self._resolve_heads(dict(info))
        # heads start the same for a given config without moving the caller's random stream
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(info.get("seed", 0)))
            self.heads = nn.ModuleList(
                ProjectionHead(int(info["pooled_dim"]), self.config.projection) for _ in self.specs
            )

    def _resolve_heads(self, info: dict[str, Any]) -> list[HeadSpec]:
        c, task = self.config, info["task"]
        tau = c.temperature
        if isinstance(c.heads, list):
            for i, spec in enumerate(c.heads):
                self._check_spec(i, spec, int(info["num_labels"]))
            return list(c.heads)
        mode: str = c.heads
        if mode == "auto":
            mode = {"hierarchical": "per_level", "multiclass": "single"}.get(task, "per_label")
        if mode == "per_level":
            if not self.level_cols:
                raise ValueError(
                    "loss 'mlcl' with heads=per_level needs a hierarchy (task 'hierarchical' "
                    "with data.hierarchy); use heads=per_label or single for flat labels"
                )
            return [HeadSpec(positives="same_ancestor", level=k + 1, temperature=tau)
                    for k in range(len(self.level_cols))]
        if mode == "per_label":
            if task == "multiclass":
                raise ValueError("loss 'mlcl': heads=per_label needs multi-hot targets; "
                                 "multi-class tasks use heads=single")
            return [HeadSpec(positives="shares_label", label=j, temperature=tau)
                    for j in range(int(info["num_labels"]))]
        # single
        if task == "multiclass":
            return [HeadSpec(positives="same_class", temperature=tau)]
        if self.level_cols:
            return [HeadSpec(positives="same_ancestor", level=len(self.level_cols), temperature=tau)]
        return [HeadSpec(positives="any_shared_label", temperature=tau)]

    def _check_spec(self, i: int, spec: HeadSpec, num_labels: int) -> None:
        where = f"loss 'mlcl', heads[{i}]"
        if spec.positives == "same_ancestor":
            if spec.level is None or not 1 <= spec.level <= len(self.level_cols):
                raise ValueError(f"{where}: same_ancestor needs level in 1..{len(self.level_cols)} "
                                 f"(the hierarchy's levels), got {spec.level}")
        if spec.positives == "shares_label":
            if spec.label is None or spec.label >= num_labels:
                raise ValueError(f"{where}: shares_label needs label in 0..{num_labels - 1}, "
                                 f"got {spec.label}")

    def head_weights(self, spec: HeadSpec, targets: torch.Tensor) -> torch.Tensor:
        """The (B, B) positive weights of one head."""
        if spec.positives == "same_ancestor":
            assert spec.level is not None
            return positive_weights("same_ancestor", targets, level_cols=self.level_cols[spec.level - 1])
        if spec.positives == "shares_label":
            return positive_weights("shares_label", targets, label=spec.label)
        return positive_weights(spec.positives, targets)

    def forward(self, output: ModelOutput, targets: torch.Tensor) -> LossOutput:
        if not self.specs:
            raise ValueError("loss 'mlcl' was not set up: call setup(info) before training "
                             "(build_loss does this)")
        pooled = output.pooled
        if pooled is None or pooled.shape[0] != targets.shape[0]:
            raise ValueError(
                f"loss 'mlcl' needs output.pooled with one row per target ({targets.shape[0]}), got "
                f"{None if pooled is None else tuple(pooled.shape)}"
            )
        # heads run on this process's rows; their outputs are gathered in one call
        projected = [head(pooled) for head in self.heads]  # K x (B, p_k)
        widths = [p.shape[1] for p in projected]
        joined, targets, grad_factor = gather_for_contrast(torch.cat(projected, dim=1), targets)
        total = pooled.sum() * 0.0
        parts: dict[str, torch.Tensor] = {}
        for k, (spec, z) in enumerate(zip(self.specs, joined.split(widths, dim=1), strict=True)):
            term = supcon_loss(z, self.head_weights(spec, targets), spec.temperature,
                               similarity=self.config.similarity)
            total = total + spec.weight * term
            parts[f"head{k}"] = term.detach()
        return LossOutput(total=scale_grad(total, grad_factor), parts={self.name: total.detach(), **parts})
