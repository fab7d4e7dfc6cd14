"""Every registered loss: finite value and gradients, no NaN on a batch without positives,
and invariance to the order of the batch. Losses that declare ``needs_embeddings`` also get
contrastive embeddings, and their gradients are checked there."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import labelwise.losses  # noqa: F401  (registers)
from labelwise.losses.build import build_loss
from labelwise.registry import LOSSES
from labelwise.types import ModelOutput

B, L, P = 6, 5, 4
LEVELS = [[0, 1], [2, 3, 4]]


def _info(name: str) -> dict:
    task = {"ce": "multiclass", "hier_softmax": "hierarchical"}.get(name, "multilabel")
    return {"task": task, "num_labels": L, "train_counts": np.array([5, 3, 2, 1, 4]),
            "num_examples": 10, "levels": LEVELS, "exclusive": True, "pooled_dim": P, "embed_dim": P}


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
    needs_emb = bool(getattr(LOSSES.get(name), "needs_embeddings", False))
    # contrastive losses without their own embeddings (mlcl) project the pooled vector
    reads_pooled = bool(getattr(LOSSES.get(name), "contrastive", False)) and not needs_emb
    emb = torch.randn(B, P, generator=torch.Generator().manual_seed(3), requires_grad=True)

    def model_output(rows: torch.Tensor | slice = slice(None)) -> ModelOutput:
        return ModelOutput(logits=logits[rows], embeddings=emb[rows] if needs_emb else None,
                           pooled=emb[rows] if reads_pooled else None)

    out = loss(model_output(), _targets(name, True))
    assert out.total.ndim == 0 and torch.isfinite(out.total)
    out.total.backward()
    checked = emb if needs_emb or reads_pooled else logits
    assert checked.grad is not None and torch.isfinite(checked.grad).all()
    assert out.parts and all(not p.requires_grad for p in out.parts.values())

    perm = torch.randperm(B, generator=torch.Generator().manual_seed(2))
    y = _targets(name, True)
    with torch.no_grad():
        a = loss(model_output(), y).total
        b = loss(model_output(perm), y[perm]).total
    assert torch.allclose(a, b, atol=1e-6)

    if name != "ce":  # ce always has a positive class
        with torch.no_grad():
            empty = loss(model_output(), _targets(name, False)).total
        assert torch.isfinite(empty)
