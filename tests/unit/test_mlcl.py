"""MLCL: one SupCon term per projection head, each against an explicit loop over pairs."""

from __future__ import annotations

import pytest
import torch

from labelwise.losses import MLCLLoss
from labelwise.losses.build import build_loss
from labelwise.types import ModelOutput
from tests.unit.test_supcon import _loop_supcon

# a two-level tree: nodes 0, 1 at level 1; 2, 3 under 0 and 4 under 1 at level 2
LEVELS = [[0, 1], [2, 3, 4]]
Y = torch.tensor([[1, 0, 1, 0, 0], [1, 0, 0, 1, 0], [0, 1, 0, 0, 1], [1, 0, 1, 0, 0],
                  [0, 1, 0, 0, 1], [1, 0, 0, 1, 0]], dtype=torch.float64)
D = 4


def _info(task: str = "hierarchical", **extra) -> dict:
    return {"task": task, "num_labels": 5, "levels": LEVELS, "pooled_dim": D, **extra}


def _loss(heads, **kw) -> MLCLLoss:
    loss = build_loss({"name": "mlcl", "heads": heads, "temperature": 0.5, **kw}, _info())
    return loss.double()


def _shares(level_cols, i: int, j: int) -> float:
    return float(any(Y[i, c] > 0 and Y[j, c] > 0 for c in level_cols))


def test_per_level_heads_match_a_loop_over_pairs() -> None:
    loss = _loss("per_level")
    assert [s.level for s in loss.specs] == [1, 2]
    pooled = torch.randn(6, D, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    out = loss(ModelOutput(logits=torch.zeros(6, 5), pooled=pooled), Y)
    expected = 0.0
    for k, head in enumerate(loss.heads):
        z = head(pooled).tolist()
        term = _loop_supcon(z, lambda i, j, k=k: _shares(LEVELS[k], i, j), 0.5)
        assert float(out.parts[f"head{k}"]) == pytest.approx(term, rel=1e-9)
        expected += term
    assert float(out.total.detach()) == pytest.approx(expected, rel=1e-9)


def test_explicit_heads_with_weights_and_labels() -> None:
    loss = _loss([{"positives": "shares_label", "label": 3, "weight": 0.5},
                  {"positives": "same_ancestor", "level": 1, "temperature": 0.2}])
    pooled = torch.randn(6, D, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    out = loss(ModelOutput(logits=torch.zeros(6, 5), pooled=pooled), Y)
    z0, z1 = (h(pooled).tolist() for h in loss.heads)
    t0 = _loop_supcon(z0, lambda i, j: float(Y[i, 3] > 0 and Y[j, 3] > 0), 0.1)  # HeadSpec default
    t1 = _loop_supcon(z1, lambda i, j: _shares(LEVELS[0], i, j), 0.2)
    assert float(out.total.detach()) == pytest.approx(0.5 * t0 + t1, rel=1e-9)


def test_single_and_auto_heads_by_task() -> None:
    assert len(_loss("single").specs) == 1 and _loss("single").specs[0].level == 2
    flat = build_loss({"name": "mlcl"}, _info("multilabel", levels=None))
    assert [s.label for s in flat.specs] == [0, 1, 2, 3, 4]
    mc = build_loss({"name": "mlcl"}, _info("multiclass", levels=None))
    assert [s.positives for s in mc.specs] == ["same_class"]


def test_no_positive_gives_zero_not_nan_and_gradient_flows() -> None:
    loss = _loss("per_level")
    pooled = torch.randn(3, D, dtype=torch.float64, requires_grad=True)
    out = loss(ModelOutput(logits=torch.zeros(3, 5), pooled=pooled), torch.zeros(3, 5, dtype=torch.float64))
    assert float(out.total.detach()) == 0.0
    out.total.backward()
    assert pooled.grad is not None and torch.isfinite(pooled.grad).all()


def test_gradcheck_float64() -> None:
    loss = _loss("per_level")
    pooled = torch.randn(6, D, dtype=torch.float64, requires_grad=True)
    torch.autograd.gradcheck(lambda p: loss(ModelOutput(logits=torch.zeros(6, 5), pooled=p), Y).total,
                             (pooled,))


def test_errors_say_what_to_fix() -> None:
    with pytest.raises(ValueError, match="hierarchy"):
        build_loss({"name": "mlcl", "heads": "per_level"}, _info("multilabel", levels=None))
    with pytest.raises(ValueError, match="level in 1..2"):
        _loss([{"positives": "same_ancestor", "level": 3}])
    with pytest.raises(ValueError, match="pooled_dim"):
        build_loss({"name": "mlcl"}, {"task": "multiclass", "num_labels": 2})
    with pytest.raises(ValueError, match="set up"):
        MLCLLoss()(ModelOutput(logits=torch.zeros(2, 2), pooled=torch.zeros(2, 2)), torch.tensor([0, 1]))
