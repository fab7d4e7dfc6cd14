"""A memory queue of past embeddings and a momentum (EMA) copy of the model that fills it.

Both are plain modules whose state lives in registered buffers, so it is checkpointed with
the loss that owns them (``loss_state.safetensors``) and a resumed run continues with the
same queue. Nothing here is back-propagated through.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from labelwise.distributed import all_gather_rows


class MemoryQueue(nn.Module):
    """A FIFO ring buffer of ``size`` embeddings (p,) with their label rows (L,).

    ``enqueue`` overwrites the oldest entries (wrapping around); under
    ``torch.distributed`` the new entries of all processes are gathered first (in rank
    order; counts may differ), so every process holds the same queue.
    """

    embeddings: torch.Tensor
    labels: torch.Tensor
    ptr: torch.Tensor
    filled: torch.Tensor

    def __init__(self, size: int, dim: int, num_labels: int) -> None:
        super().__init__()
        if size < 0:
            raise ValueError(f"queue size must be >= 0, got {size}")
        self.size = size
        self.register_buffer("embeddings", torch.zeros(size, dim))
        self.register_buffer("labels", torch.zeros(size, num_labels))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))
        self.register_buffer("filled", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def enqueue(self, z: torch.Tensor, y: torch.Tensor) -> None:
        """Add (n, p) embeddings with (n, L) label rows (both detached)."""
        if self.size == 0:
            return
        z = all_gather_rows(z.detach().to(self.embeddings.dtype))
        y = all_gather_rows(y.detach().to(self.labels.dtype))
        n = z.shape[0]
        if n >= self.size:  # only the newest `size` entries survive
            z, y, n = z[-self.size:], y[-self.size:], self.size
        idx = (int(self.ptr) + torch.arange(n, device=z.device)) % self.size
        self.embeddings[idx] = z
        self.labels[idx] = y
        self.ptr.fill_((int(self.ptr) + n) % self.size)
        self.filled.fill_(min(self.size, int(self.filled) + n))

    def contents(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The filled entries: (k, p) embeddings and (k, L) labels, k <= size."""
        k = int(self.filled)
        return self.embeddings[:k], self.labels[:k]


class MomentumCopy(nn.Module):
    """An exponential moving average of a model: ``theta_m <- m * theta_m + (1 - m) * theta``.

    Holds a frozen deep copy made at ``attach``; ``update`` moves it towards the model
    after each optimizer step, and ``forward`` runs it (eval mode, no gradient).
    """

    def __init__(self, momentum: float = 0.999) -> None:
        super().__init__()
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.momentum = momentum
        self.model: nn.Module | None = None

    def attach(self, model: nn.Module) -> None:
        self.model = copy.deepcopy(model)
        self.model.requires_grad_(False)
        self.model.eval()

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        assert self.model is not None, "attach(model) first"
        m = self.momentum
        for p_m, p in zip(self.model.parameters(), model.parameters(), strict=True):
            p_m.mul_(m).add_(p.detach(), alpha=1.0 - m)
        for b_m, b in zip(self.model.buffers(), model.buffers(), strict=True):
            b_m.copy_(b)

    def train(self, mode: bool = True) -> MomentumCopy:
        super().train(mode)
        if self.model is not None:
            self.model.eval()  # keys come without dropout
        return self
