"""Chunk pooling: how a model over documents turns its chunks' logits into one row per
document. A registered component (:data:`labelwise.registry.POOLINGS`), owned by the
:class:`~labelwise.models.classifier.Classifier` as its ``chunk_pooling`` submodule (no
parameters, nothing in the state dict: the config rebuilds it on load).

- ``max``: the maximum over a document's chunks.
- ``stateful``: that maximum plus ``gamma`` times the label state carried over the chunks
  before the last (PLANT's stateful decoder, :func:`labelwise.models.stateful.stateful_pool`:
  per chunk the top ``k`` sigmoid scores, element-wise max over the chunks read so far). The
  state is detached, so the gradient is max pooling's (every chunk keeps learning), and
  training and prediction score documents the same way; a one-chunk document gets exactly
  its max-pooled logits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from labelwise.config import ModelConfig
from labelwise.decode import pool_chunks
from labelwise.models.stateful import stateful_pool
from labelwise.registry import POOLINGS


@dataclass(frozen=True)
class ChunkPooling:
    """Which pooling, with its settings (``model.chunk_pooling``, ``stateful_k``, ``stateful_gamma``)."""

    mode: Literal["max", "stateful"] = "max"
    k: int = 10
    gamma: float = 1.0

    @classmethod
    def of(cls, model: ModelConfig) -> ChunkPooling:
        """The pooling a run's ``model`` section configures."""
        return cls(model.chunk_pooling, model.stateful_k, model.stateful_gamma)


class _Pooling(nn.Module):
    """A pooling component: ``(logits (R, L), doc_index (R,), num_docs) -> (D, L)``."""

    def __init__(self, spec: ChunkPooling) -> None:
        super().__init__()
        self.spec = spec


@POOLINGS.register("max")
class MaxPooling(_Pooling):
    """The maximum of each label's logit over a document's chunks."""

    def __init__(self, spec: ChunkPooling | None = None) -> None:
        super().__init__(spec or ChunkPooling())

    def forward(self, logits: torch.Tensor, doc_index: torch.Tensor, num_docs: int) -> torch.Tensor:
        return pool_chunks(logits, doc_index, num_docs)


@POOLINGS.register("stateful")
class StatefulPooling(_Pooling):
    """Max pooling plus ``gamma`` times the carried state of the chunks before each
    document's last one (0 for a one-chunk document, so its logits are exactly the
    max-pooled ones). The state comes from detached logits: the gradient is max pooling's."""

    def forward(self, logits: torch.Tensor, doc_index: torch.Tensor, num_docs: int) -> torch.Tensor:
        k, gamma = self.spec.k, self.spec.gamma
        plain = logits.detach()
        with_state = stateful_pool(plain, doc_index, num_docs, k, gamma)
        last = stateful_pool(plain, doc_index, num_docs, k, 0.0)  # the last chunk's logits
        return pool_chunks(logits, doc_index, num_docs) + (with_state - last)


def make_pooling(spec: ChunkPooling) -> nn.Module:
    """The registered pooling component for ``spec``."""
    cls = POOLINGS.get(spec.mode)
    return cls(spec)


def pool_chunk_logits(
    logits: torch.Tensor, doc_index: torch.Tensor, num_docs: int, pooling: ChunkPooling
) -> torch.Tensor:
    """(R, L) chunk logits -> (D, L) document logits, as ``pooling`` says."""
    pooled: torch.Tensor = make_pooling(pooling)(logits, doc_index, num_docs)
    return pooled
