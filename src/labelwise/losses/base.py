"""What every loss is, and each hook the training loop calls on it.

A loss maps the model's output and the targets to a :class:`~labelwise.types.LossOutput`
(a scalar ``total`` and its named, unweighted ``parts``). Around that, the loop calls, in
this order:

- ``setup(info)`` once, when the loss is built (:func:`labelwise.losses.build.build_loss`):
  the task, label counts, widths of the model's pooled vector and projection, the seed;
- ``attach(model)`` once, when the trainer starts (e.g. ABALONE's momentum copy);
- per step: ``before_loss(batch)`` before the forward pass (e.g. encode the batch with the
  momentum copy), ``forward(output, targets)``, then ``after_step(model)`` after the
  optimizer step (e.g. update the momentum copy and the queue).

And it reads three flags: ``needs_embeddings`` (the loss reads
``ModelOutput.embeddings``, so the model gets a projection head), ``contrastive`` (each text
is fed twice, as two dropout views) and ``label_separable`` (a sum of per-label terms with no
per-label parameters, so ``train.label_sample`` may score a subset of the labels).

Losses never import the training package.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from labelwise.types import Batch, LossOutput, ModelOutput


class Loss(nn.Module):
    """Base class of the losses: every hook is declared here, and does nothing by default."""

    # read on the class too (e.g. to decide a model's projection head before building it)
    needs_embeddings: bool = False
    contrastive: bool = False

    @property
    def label_separable(self) -> bool:
        return False

    def setup(self, info: Mapping[str, Any]) -> None:
        """Learn what the data decides (class weights, prototypes' sizes, ...)."""

    def attach(self, model: nn.Module) -> None:
        """Bind to the model being trained (called once by the trainer)."""

    def before_loss(self, batch: Batch) -> None:
        """Called with each training batch before the model's forward pass."""

    def after_step(self, model: nn.Module) -> None:
        """Called after each optimizer step."""

    def forward(self, output: ModelOutput, targets: torch.Tensor) -> LossOutput:  # pragma: no cover
        raise NotImplementedError
