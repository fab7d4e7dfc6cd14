"""Classification losses against explicit Python loops on tiny tensors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import labelwise.losses as L
from labelwise.registry import LOSSES
from labelwise.types import ModelOutput

LOGITS = [[1.5, -0.5, 0.2], [-2.0, 0.7, 3.0]]
MULTI_HOT = [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]


def _sig(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def _loop_mean(fn) -> float:
    """Mean of fn(z, y) over the elements of LOGITS / MULTI_HOT."""
    vals = [
        fn(z, y)
        for zr, yr in zip(LOGITS, MULTI_HOT, strict=True)
        for z, y in zip(zr, yr, strict=True)
    ]
    return sum(vals) / len(vals)


def _run(name: str, logits, targets, label_info=None, **params) -> torch.Tensor:
    loss = LOSSES.create(name, **params)
    if label_info is not None:
        loss.setup(label_info)
    return loss(ModelOutput(logits=torch.tensor(logits)), targets).total


def _bce(z: float, y: float) -> float:
    p = _sig(z)
    return -(y * math.log(p) + (1 - y) * math.log(1 - p))


def test_registered_names() -> None:
    assert {"ce", "bce", "focal", "asl", "hier_softmax", "combined"} <= set(LOSSES.names())


def test_ce_matches_loop_with_smoothing_and_balanced_weights() -> None:
    ids = torch.tensor([0, 2])
    counts = np.array([3, 1, 1])
    w = [5 / (3 * c) for c in counts]
    eps = 0.1
    num, den = 0.0, 0.0
    for zr, t in zip(LOGITS, ids.tolist(), strict=True):
        logz = math.log(sum(math.exp(v) for v in zr))
        logp = [v - logz for v in zr]
        # torch: weighted smoothing, normalised by the sum of the target weights
        num += w[t] * (1 - eps) * -logp[t] + eps / 3 * sum(-w[c] * logp[c] for c in range(3))
        den += w[t]
    info = {"task": "multiclass", "num_labels": 3, "train_counts": counts, "levels": None}
    got = _run("ce", LOGITS, ids, info, label_smoothing=eps, class_weight="balanced")
    assert got.item() == pytest.approx(num / den, rel=1e-5)


def test_ce_converts_one_hot_and_rejects_multi_label() -> None:
    ids = torch.tensor([1, 2])
    one_hot = torch.nn.functional.one_hot(ids, 3).float()
    assert _run("ce", LOGITS, one_hot).item() == pytest.approx(_run("ce", LOGITS, ids).item())
    with pytest.raises(ValueError, match="use the 'bce'"):
        _run("ce", LOGITS, torch.tensor(MULTI_HOT))


def test_bce_matches_loop_and_balanced_pos_weight() -> None:
    y = torch.tensor(MULTI_HOT)
    assert _run("bce", LOGITS, y).item() == pytest.approx(_loop_mean(_bce), rel=1e-5)
    counts = np.array([2, 5, 10])  # n=10 -> pos_weight (8/2, 5/5, 0/10) clipped to [1, 3]
    pw = [3.0, 1.0, 1.0]
    expect = [
        -(pw[j] * y * math.log(_sig(z)) + (1 - y) * math.log(1 - _sig(z)))
        for zr, yr in zip(LOGITS, MULTI_HOT, strict=True)
        for j, (z, y) in enumerate(zip(zr, yr, strict=True))
    ]
    info = {"task": "multilabel", "num_labels": 3, "train_counts": counts, "num_examples": 10}
    got = _run("bce", LOGITS, y, info, pos_weight="balanced", max_pos_weight=3.0)
    assert got.item() == pytest.approx(sum(expect) / 6, rel=1e-5)


def test_focal_matches_loop_and_reduces_to_bce() -> None:
    def focal(z: float, y: float, gamma: float = 2.0, alpha: float = 0.25) -> float:
        pt = _sig(z) if y == 1 else 1 - _sig(z)
        at = alpha if y == 1 else 1 - alpha
        return -at * (1 - pt) ** gamma * math.log(pt)

    y = torch.tensor(MULTI_HOT)
    got = _run("focal", LOGITS, y, alpha=0.25)
    assert got.item() == pytest.approx(_loop_mean(focal), rel=1e-5)
    assert _run("focal", LOGITS, y, gamma=0.0).item() == pytest.approx(
        _run("bce", LOGITS, y).item()
    )


def test_asl_matches_loop_and_reduces_to_bce() -> None:
    def asl(z: float, y: float, gp: float = 1.0, gn: float = 4.0, m: float = 0.05) -> float:
        p = _sig(z)
        if y == 1:
            return -((1 - p) ** gp) * math.log(p)
        pm = max(p - m, 0.0)
        return -(pm**gn) * math.log(1 - pm)

    y = torch.tensor(MULTI_HOT)
    assert _run("asl", LOGITS, y, gamma_pos=1.0).item() == pytest.approx(_loop_mean(asl), rel=1e-5)
    plain = _run("asl", LOGITS, y, gamma_pos=0.0, gamma_neg=0.0, clip=0.0)
    assert plain.item() == pytest.approx(_run("bce", LOGITS, y).item(), rel=1e-6)


@pytest.mark.parametrize(
    "fn",
    [
        lambda z, y: L.focal_loss(z, y, gamma=2.0, alpha=0.3),
        lambda z, y: L.focal_loss(z, y, gamma=0.5),
        lambda z, y: L.asymmetric_loss(z, y, gamma_pos=1.0, gamma_neg=4.0, clip=0.05),
        lambda z, y: L.asymmetric_loss(z, y, gamma_pos=0.0, gamma_neg=2.0, clip=0.0),
    ],
)
def test_gradcheck_float64(fn) -> None:
    # logits away from the clip kink p = 0.05 (z ~ -2.94)
    z = torch.tensor([[1.3, -0.4, 2.2], [-1.1, 0.6, -2.0]], dtype=torch.float64, requires_grad=True)
    y = torch.tensor(MULTI_HOT, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda t: fn(t, y), (z,))


@pytest.mark.parametrize("name", ["bce", "focal", "asl"])
def test_large_logits_finite(name: str) -> None:
    z = torch.tensor([[100.0, -100.0, 100.0, -100.0]], requires_grad=True)
    y = torch.tensor([[1.0, 0.0, 0.0, 1.0]])  # right, right, wrong, wrong
    params = {"gamma": 0.5} if name == "focal" else {}
    out = LOSSES.create(name, **params)(ModelOutput(logits=z), y).total
    out.backward()
    assert torch.isfinite(out) and torch.isfinite(z.grad).all()
    assert out.item() > 10  # the confidently wrong entries are penalised


def test_hier_softmax_matches_loop_and_skips_empty_levels() -> None:
    levels = [[0, 1], [2, 3, 4]]
    logits = [[0.5, -0.5, 1.0, 0.0, -1.0], [2.0, 1.0, 0.3, 0.2, 0.1]]
    targets = torch.tensor([[1.0, 0, 0, 1, 0], [0, 1, 0, 0, 0]])  # row 1 has no level-1 label
    info = {"task": "hierarchical", "num_labels": 5, "train_counts": np.ones(5), "levels": levels}

    def nll(row: list[float], idx: list[int], target: int) -> float:
        logz = math.log(sum(math.exp(row[i]) for i in idx))
        return logz - row[target]

    lvl0 = (nll(logits[0], levels[0], 0) + nll(logits[1], levels[0], 1)) / 2
    lvl1 = nll(logits[0], levels[1], 3)  # only row 0 counts
    got = _run("hier_softmax", logits, targets, info)
    assert got.item() == pytest.approx((lvl0 + lvl1) / 2, rel=1e-5)

    z = torch.tensor(logits, requires_grad=True)
    loss = LOSSES.create("hier_softmax")
    loss.setup(info)
    empty = loss(ModelOutput(logits=z), torch.zeros(2, 5)).total
    empty.backward()
    assert empty.item() == 0.0 and torch.isfinite(z.grad).all()
    with pytest.raises(ValueError, match="call setup"):
        LOSSES.create("hier_softmax")(ModelOutput(logits=z), targets)


def test_combined_weighted_sum_and_named_parts() -> None:
    y = torch.tensor(MULTI_HOT)
    parts = [
        {"name": "bce", "weight": 0.5},
        {"name": "asl", "weight": 2.0, "gamma_neg": 2.0},
        {"name": "bce"},
    ]
    out = LOSSES.create("combined", parts=parts)(ModelOutput(logits=torch.tensor(LOGITS)), y)
    bce = _run("bce", LOGITS, y).item()
    asl = _run("asl", LOGITS, y, gamma_neg=2.0).item()
    assert set(out.parts) == {"bce", "asl", "bce_1"}
    assert out.parts["asl"].item() == pytest.approx(asl)
    assert out.total.item() == pytest.approx(0.5 * bce + 2.0 * asl + bce, rel=1e-6)
    assert not any(v.requires_grad for v in out.parts.values())


def test_combined_forwards_setup_and_reports_bad_parts() -> None:
    combo = LOSSES.create("combined", parts=[{"name": "ce", "class_weight": "balanced"}])
    combo.setup({"task": "multiclass", "num_labels": 3, "train_counts": np.array([1, 1, 2])})
    assert combo.losses[0].class_weight is not None
    with pytest.raises(ValueError, match="Did you mean 'focal'"):
        LOSSES.create("combined", parts=[{"name": "focl"}])
    with pytest.raises(ValueError, match="unknown key 'gamma'"):
        LOSSES.create("combined", parts=[{"name": "bce", "gamma": 2}])
    with pytest.raises(ValueError, match="cannot itself be 'combined'"):
        LOSSES.create("combined", parts=[{"name": "combined"}])


def test_combined_auto_part_follows_the_task() -> None:
    from labelwise.losses.build import build_loss

    spec = {"name": "combined", "parts": [{"name": "auto"}, {"name": "bce", "weight": 0.5}]}
    mc = build_loss(spec, {"task": "multiclass", "num_labels": 3})
    assert mc.names == ["ce", "bce"]
    ml = build_loss(spec, {"task": "multilabel", "num_labels": 3})
    assert ml.keys == ["bce", "bce_1"]
    out = ml(ModelOutput(logits=torch.zeros(2, 3)), torch.ones(2, 3))
    assert set(out.parts) == {"bce", "bce_1"}
    with pytest.raises(ValueError, match="setup"):
        LOSSES.create("combined", parts=[{"name": "auto"}])(ModelOutput(logits=torch.zeros(2, 3)), torch.ones(2, 3))
