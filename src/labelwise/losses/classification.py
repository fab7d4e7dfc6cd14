"""Classification losses on logits: ``ce``, ``bce``, ``focal``, ``asl`` and ``hier_softmax``.

Each class is a thin ``nn.Module`` over a pure function of :mod:`labelwise.losses.functional`,
built by ``LOSSES.create(name, **params)`` with its hyperparameters in a nested ``Config``.
The trainer calls ``setup(label_info)`` once before training where a loss defines it; the
keys are ``task``, ``num_labels``, ``train_counts`` (per-label training counts),
``levels`` (hierarchies only) and, optionally, ``num_examples`` (training documents).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from labelwise.losses import functional as LF
from labelwise.losses.base import Loss
from labelwise.registry import LOSSES
from labelwise.types import LossOutput, ModelOutput

ALL_TASKS = ("multiclass", "multilabel", "hierarchical", "extreme")


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClassificationLoss(Loss):
    """Shared plumbing: the registered ``name``, the tasks it suits, the output wrapper."""

    name: ClassVar[str] = ""
    supported_tasks: ClassVar[tuple[str, ...]] = ALL_TASKS
    Config: ClassVar[type[BaseModel]] = _Config

    def __init__(self, config: BaseModel | None = None) -> None:
        super().__init__()
        self.config: Any = config if config is not None else self.Config()

    @property
    def label_separable(self) -> bool:
        """True when the loss is a sum of independent per-label terms with no per-label
        parameters, so it can be computed on a subset of the label columns (the trainer's
        ``train.label_sample``)."""
        return False

    def _output(self, total: torch.Tensor) -> LossOutput:
        return LossOutput(total=total, parts={self.name: total.detach()})

    def _counts(self, label_info: Mapping[str, Any]) -> torch.Tensor:
        counts = torch.tensor(np.array(label_info["train_counts"], dtype=np.float64)).flatten()
        if counts.numel() != int(label_info["num_labels"]):
            raise ValueError(
                f"loss '{self.name}': train_counts has {counts.numel()} entries, expected "
                f"num_labels={label_info['num_labels']}; pass one count per label"
            )
        return counts


@LOSSES.register("ce")
class CrossEntropyLoss(ClassificationLoss):
    """Softmax cross-entropy for multi-class tasks (one label per document).

    Requirements:
        Exactly one label per document (task ``multiclass``).

    Inputs:
        ``output.logits`` (B, L); targets (B,) long class ids, or (B, L) one-hot, which is
        converted (rows with zero or several positives are an error pointing to ``bce``).

    Config:
        label_smoothing: mass spread uniformly over the classes (0 disables).
        class_weight: ``"balanced"`` weighs class c by ``n / (L * count_c)`` from the
            training counts given to ``setup``; None weighs all classes equally.
    """

    name = "ce"
    supported_tasks = ("multiclass",)

    class Config(_Config):
        label_smoothing: float = Field(0.0, ge=0.0, lt=1.0)
        class_weight: Literal["balanced"] | None = None

    def __init__(self, config: Config | None = None) -> None:
        super().__init__(config)
        self.register_buffer("class_weight", None, persistent=False)

    def setup(self, label_info: Mapping[str, Any]) -> None:
        task = str(label_info.get("task", "multiclass"))
        if task not in self.supported_tasks:
            raise ValueError(
                f"loss 'ce' needs one label per document (task 'multiclass'), got task "
                f"'{task}'; use 'bce', 'focal' or 'asl' (or 'hier_softmax' for hierarchies)"
            )
        if self.config.class_weight == "balanced":
            self.class_weight = LF.balanced_class_weights(self._counts(label_info)).float()

    def forward(self, output: ModelOutput, targets: torch.Tensor) -> LossOutput:
        logits = output.logits
        if targets.dim() == 2:
            targets = LF.class_ids_from_multi_hot(targets)
        elif targets.is_floating_point():
            raise TypeError(
                "loss 'ce' expects (B,) long class ids or (B, L) one-hot targets, got a "
                f"(B,) {targets.dtype} tensor; convert with targets.long()"
            )
        weight = None
        if self.config.class_weight == "balanced":
            if self.class_weight is None:
                raise ValueError(
                    "loss 'ce' with class_weight='balanced' needs training counts: call "
                    "setup(label_info) before the first forward"
                )
            weight = self.class_weight.to(logits)
        total = LF.cross_entropy(logits, targets, self.config.label_smoothing, weight)
        return self._output(total)


@LOSSES.register("bce")
class BinaryCrossEntropyLoss(ClassificationLoss):
    """Sigmoid binary cross-entropy, one independent decision per label.

    Requirements:
        Any task; multi-class (B,) class ids are turned into one-hot targets.

    Inputs:
        ``output.logits`` (B, L); targets (B, L) multi-hot (soft values allowed) or (B,) ids.

    Config:
        pos_weight: None; a number multiplying every positive term; or ``"balanced"``:
            per label ``negatives / positives`` from ``setup`` (needs ``train_counts`` and
            ``num_examples``), clipped to ``[1, max_pos_weight]`` so that rare labels in
            extreme tasks do not blow up the gradients.
        max_pos_weight: the clip for ``"balanced"``.
    """

    name = "bce"

    class Config(_Config):
        pos_weight: Literal["balanced"] | Annotated[float, Field(gt=0.0)] | None = None
        max_pos_weight: float = Field(100.0, ge=1.0)

    def __init__(self, config: Config | None = None) -> None:
        super().__init__(config)
        self.register_buffer("pos_weight", None, persistent=False)
        if isinstance(self.config.pos_weight, float):
            self.pos_weight = torch.tensor(self.config.pos_weight)

    @property
    def label_separable(self) -> bool:
        return self.config.pos_weight != "balanced"  # a per-label weight vector is not

    def setup(self, label_info: Mapping[str, Any]) -> None:
        if self.config.pos_weight != "balanced":
            return
        if label_info.get("num_examples") is None:
            raise ValueError(
                "loss 'bce' with pos_weight='balanced' needs label_info['num_examples'] (the "
                "number of training documents) besides train_counts; pass it to setup() or "
                "set pos_weight to a number or None"
            )
        counts = self._counts(label_info)
        n = int(label_info["num_examples"])
        self.pos_weight = LF.balanced_pos_weight(counts, n, self.config.max_pos_weight).float()

    def forward(self, output: ModelOutput, targets: torch.Tensor) -> LossOutput:
        logits = output.logits
        if self.config.pos_weight == "balanced" and self.pos_weight is None:
            raise ValueError(
                "loss 'bce' with pos_weight='balanced' needs training counts: call "
                "setup(label_info) before the first forward"
            )
        pw = None if self.pos_weight is None else self.pos_weight.to(logits)
        total = LF.binary_cross_entropy(logits, LF.as_multi_hot(targets, logits), pw)
        return self._output(total)


@LOSSES.register("focal")
class FocalLoss(ClassificationLoss):
    """Sigmoid focal loss: BCE down-weighted on well-classified labels by ``(1 - p_t)^gamma``.

    Requirements:
        Any task (a multi-label loss; multi-class ids become one-hot).

    Inputs:
        ``output.logits`` (B, L); targets (B, L) multi-hot or (B,) ids.

    Relations:
        ``gamma=0, alpha=None`` is ``bce``; ``asl`` with ``gamma_neg == gamma_pos`` and
        ``clip=0`` is focal without alpha.

    Config:
        gamma: focusing strength (2 as in Lin et al. 2017).
        alpha: weight of positives (``1 - alpha`` for negatives); None disables.
    """

    name = "focal"

    class Config(_Config):
        gamma: float = Field(2.0, ge=0.0)
        alpha: float | None = Field(None, ge=0.0, le=1.0)

    @property
    def label_separable(self) -> bool:
        return True

    def forward(self, output: ModelOutput, targets: torch.Tensor) -> LossOutput:
        logits = output.logits
        cfg = self.config
        total = LF.focal_loss(logits, LF.as_multi_hot(targets, logits), cfg.gamma, cfg.alpha)
        return self._output(total)


@LOSSES.register("asl")
class AsymmetricLoss(ClassificationLoss):
    """Asymmetric loss (Ridnik et al. 2021) for multi-label tasks with many negatives.

    Requirements:
        Multi-label style targets (any task; multi-class ids become one-hot).

    Inputs:
        ``output.logits`` (B, L); targets (B, L) multi-hot or (B,) ids.

    Relations:
        ``gamma_pos = gamma_neg = clip = 0`` is ``bce``.

    Config:
        gamma_pos: focusing on positives (0: plain log-likelihood, as in the paper).
        gamma_neg: focusing on negatives (4, the paper's default).
        clip: probability margin; negatives with ``p < clip`` contribute nothing (0.05).
        eps: floor inside the logarithm of the shifted negative probability.
    """

    name = "asl"

    class Config(_Config):
        gamma_pos: float = Field(0.0, ge=0.0)
        gamma_neg: float = Field(4.0, ge=0.0)
        clip: float = Field(0.05, ge=0.0, lt=1.0)
        eps: float = Field(1e-8, gt=0.0, lt=0.1)

    @property
    def label_separable(self) -> bool:
        return True

    def forward(self, output: ModelOutput, targets: torch.Tensor) -> LossOutput:
        logits = output.logits
        c = self.config
        y = LF.as_multi_hot(targets, logits)
        total = LF.asymmetric_loss(logits, y, c.gamma_pos, c.gamma_neg, c.clip, c.eps)
        return self._output(total)


@LOSSES.register("hier_softmax")
class HierarchicalSoftmaxLoss(ClassificationLoss):
    """Per-level softmax cross-entropy for hierarchies whose every level is single-label.

    Requirements:
        Task ``hierarchical``; ``setup`` must receive ``levels`` (one list of label
        indices per level). Each document has at most one positive per level.

    Inputs:
        ``output.logits`` (B, L) over all nodes; targets (B, L) multi-hot with ancestors.
        Rows with no positive at a level skip that level; the loss is the mean over levels.
    """

    name = "hier_softmax"
    supported_tasks = ("hierarchical",)

    def __init__(self, config: BaseModel | None = None) -> None:
        super().__init__(config)
        self._levels: list[torch.Tensor] | None = None

    def setup(self, label_info: Mapping[str, Any]) -> None:
        levels = label_info.get("levels")
        if not levels:
            raise ValueError(
                "loss 'hier_softmax' needs label_info['levels'] (one list of label indices per "
                f"level), got {levels!r}; use it with task 'hierarchical' or pick 'bce'"
            )
        num_labels = int(label_info["num_labels"])
        parsed = []
        for k, idx in enumerate(levels):
            t = torch.as_tensor(list(idx), dtype=torch.long)
            if t.numel() == 0 or int(t.min()) < 0 or int(t.max()) >= num_labels:
                raise ValueError(
                    f"loss 'hier_softmax': level {k} must hold indices in [0, {num_labels}), "
                    f"got {list(idx)[:10]}"
                )
            parsed.append(t)
        self._levels = parsed

    def forward(self, output: ModelOutput, targets: torch.Tensor) -> LossOutput:
        if self._levels is None:
            raise ValueError(
                "loss 'hier_softmax' has no levels: call setup(label_info) with "
                "label_info['levels'] before the first forward"
            )
        logits = output.logits
        if self._levels[0].device != logits.device:
            self._levels = [t.to(logits.device) for t in self._levels]
        y = LF.as_multi_hot(targets, logits)
        return self._output(LF.hierarchical_softmax_loss(logits, y, self._levels))
