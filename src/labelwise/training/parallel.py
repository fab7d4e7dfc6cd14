"""Data-parallel training: the model inside DistributedDataParallel, called like the model."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import torch

from labelwise.types import ModelOutput


def wrap_ddp(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``model`` in DistributedDataParallel, called like the model: ``(ids, mask) -> ModelOutput``.

    ``find_unused_parameters``: a projection or classifier the loss does not read (e.g.
    pre-training with supcon alone) gets no gradient, which DDP must be told of.
    """
    from torch.nn.parallel import DistributedDataParallel

    cuda = device.type == "cuda"
    index = device.index if device.index is not None else (torch.cuda.current_device() if cuda else None)
    ddp = DistributedDataParallel(
        _OutputFields(model), device_ids=[index] if cuda else None, find_unused_parameters=True
    )
    return _Distributed(ddp)


class _OutputFields(torch.nn.Module):
    """The model, returning its ModelOutput's fields as a dict: DistributedDataParallel
    looks into dicts (not dataclasses) to let outputs the loss ignores pass gradient-free."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, doc_index: torch.Tensor | None = None
    ) -> dict[str, Any]:
        out = self.model(input_ids, attention_mask, doc_index)
        return {f.name: getattr(out, f.name) for f in fields(out)}


class _Distributed(torch.nn.Module):
    """A DDP-wrapped model called like the model: ``(ids, mask[, doc_index]) -> ModelOutput``;
    the model pools a batch's chunks inside its forward, so the wrapper reads documents too."""

    reads_documents = True

    def __init__(self, ddp: torch.nn.Module) -> None:
        super().__init__()
        self.ddp = ddp

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, doc_index: torch.Tensor | None = None
    ) -> ModelOutput:
        if doc_index is None:
            return ModelOutput(**self.ddp(input_ids, attention_mask))
        return ModelOutput(**self.ddp(input_ids, attention_mask, doc_index))
