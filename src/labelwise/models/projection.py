"""Projection head for contrastive losses: pooled vector -> embedding ``z``."""

from __future__ import annotations

import torch
from torch import nn

from labelwise.config import ProjectionConfig

__all__ = ["ProjectionConfig", "ProjectionHead"]


class ProjectionHead(nn.Module):
    """Maps the encoder's pooled vector (B, d) to the embedding ``z`` (B, dim) that a
    contrastive loss compares. It sits beside the classification head, never under it,
    so classification reads the encoder's representation, not the projected one."""

    def __init__(self, in_dim: int, config: ProjectionConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or ProjectionConfig()
        if c.layers == 1:
            self.net: nn.Module = nn.Linear(in_dim, c.dim)
        else:
            hidden = c.hidden_dim or in_dim
            self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, c.dim))

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        """(B, d) -> (B, dim)."""
        z: torch.Tensor = self.net(pooled)
        return z
