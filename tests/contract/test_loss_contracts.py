"""Every registered loss: finite value and gradients, no NaN on a batch without positives,
and invariance to the order of the batch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import labelwise.losses  # noqa: F401  (registers)
from labelwise.losses.build import build_loss
from labelwise.registry import LOSSES
from labelwise.types import ModelOutput

B, L = 6, 5
LEVELS = [[0, 1], [2, 3, 4]]


def _info(name: str) -> dict:
    task = {"ce": "multiclass", "hier_softmax": "hierarchical"}.get(name, "multilabel")
    return {"task": task, "num_labels": L, "train_counts": np.array([5, 3, 2, 1, 4]),
            "num_examples": 10, "levels": LEVELS, "exclusive": True}


def _targets(name: str, positives: bool) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    if name == "ce":
        return torch.randint(0, L, (B,), generator=g)
    if name == "hier_softmax":
        y = torch.zeros(B, L)
        if positives:
            y[torch.arange(B), torch.randint(0, 2, (B,), generator=g)] = 1
            y[torch.arange(B), torch.randint(2, 5, (B,), generator=g)] = 1
        return y
    return (torch.rand(B, L, generator=g) > 0.6).float() if positives else torch.zeros(B, L)


@pytest.mark.parametrize("name", LOSSES.names())
def test_loss_contract(name: str) -> None:
    loss = build_loss({"name": name}, _info(name))
    logits = torch.randn(B, L, generator=torch.Generator().manual_seed(1), requires_grad=True)
    out = loss(ModelOutput(logits=logits), _targets(name, True))
    assert out.total.ndim == 0 and torch.isfinite(out.total)
    out.total.backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all()
    assert out.parts and all(not p.requires_grad for p in out.parts.values())

    perm = torch.randperm(B, generator=torch.Generator().manual_seed(2))
    y = _targets(name, True)
    a = loss(ModelOutput(logits=logits.detach()), y).total
    b = loss(ModelOutput(logits=logits.detach()[perm]), y[perm]).total
    assert torch.allclose(a, b, atol=1e-6)

    if name != "ce":  # ce always has a positive class
        empty = loss(ModelOutput(logits=logits.detach()), _targets(name, False)).total
        assert torch.isfinite(empty)
