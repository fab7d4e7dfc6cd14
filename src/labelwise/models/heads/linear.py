"""Linear head on the pooled vector, with an optional hidden layer."""

from __future__ import annotations

from typing import ClassVar

import torch
from pydantic import BaseModel, ConfigDict, Field, PositiveInt
from torch import nn

from labelwise.models.heads.base import Head
from labelwise.registry import HEADS
from labelwise.types import EncoderOutput, ModelOutput


@HEADS.register("linear")
class LinearHead(Head):
    """Dropout and a Linear layer on the pooled vector (optionally a tanh hidden layer first).

    Args:
        in_dim: width of the encoder's pooled vector.
        num_labels: number of outputs L.
        config: see ``LinearHead.Config``.
    """

    pooled_only: ClassVar[bool] = True  # reads enc.pooled only (frozen features can be cached)

    class Config(BaseModel):
        """Options of the linear head."""

        model_config = ConfigDict(extra="forbid")

        dropout: float = Field(default=0.1, ge=0.0, lt=1.0)
        hidden_dim: PositiveInt | None = None  # None: a single Linear layer

    def __init__(self, in_dim: int, num_labels: int, config: LinearHead.Config | None = None):
        super().__init__()
        self.config = config = config or LinearHead.Config()
        layers: list[nn.Module] = [nn.Dropout(config.dropout)]
        if config.hidden_dim is not None:
            layers += [nn.Linear(in_dim, config.hidden_dim), nn.Tanh(), nn.Dropout(config.dropout)]
            in_dim = config.hidden_dim
        layers.append(nn.Linear(in_dim, num_labels))
        self.net = nn.Sequential(*layers)
        self.num_labels = num_labels
        # None: score every label; a (l,) long tensor: only those (labelwise.models.heads.label_subset)
        self.label_subset: torch.Tensor | None = None

    def forward(self, enc: EncoderOutput) -> ModelOutput:
        """Logits (B, L) from ``enc.pooled`` (B, d); (B, l) for the labels of
        ``label_subset`` when it is set."""
        if self.label_subset is None:
            logits: torch.Tensor = self.net(enc.pooled)
            return ModelOutput(logits=logits)
        hidden = self.net[:-1](enc.pooled)
        out = self.net[-1]
        assert isinstance(out, nn.Linear)
        rows = self.label_subset
        return ModelOutput(logits=nn.functional.linear(hidden, out.weight[rows], out.bias[rows]))
