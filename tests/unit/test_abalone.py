"""ABALONE against an explicit loop over anchors, labels and positives; the memory queue;
the momentum copy; the loss inside training."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from labelwise.losses import abalone_loss, supcon_loss
from labelwise.losses.build import build_loss
from labelwise.losses.memory import MemoryQueue, MomentumCopy
from labelwise.losses.positives import any_shared_label
from labelwise.types import Batch, ModelOutput

Y = [[1, 1, 0], [0, 1, 0], [1, 0, 0], [0, 0, 1], [0, 0, 0], [1, 1, 0]]  # row 4: no label
QY = [[0, 0, 1], [1, 0, 0]]


def _unit(rows: int, seed: int, dim: int = 4) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(rows, dim, generator=g, dtype=torch.float64), dim=1)


def _loop(z, y, qz, qy, protos, tau, alpha, beta, labelwise):
    """The definition, one anchor, label and positive at a time."""
    z, qz = z.tolist(), (qz.tolist() if qz is not None else [])
    cands = [(k, z[k], y[k]) for k in range(len(z))] + [(None, v, qy[i]) for i, v in enumerate(qz)]
    protos = protos.tolist() if protos is not None else None
    dot = lambda a, b: sum(x * w for x, w in zip(a, b, strict=True)) / tau  # noqa: E731
    losses = []
    for i, zi in enumerate(z):
        labels = [lab for lab, v in enumerate(y[i]) if v]
        if not labels:
            continue
        others = [(zc, yc) for k, zc, yc in cands if k != i]
        denom = beta * sum(math.exp(dot(zi, zc)) for zc, _ in others)
        if protos is not None:
            denom += sum(math.exp(dot(zi, p)) for p in protos)
        cost = lambda v: -math.log(math.exp(dot(zi, v)) / denom)  # noqa: E731,B023
        if labelwise:
            per_label = []
            for lab in labels:
                num = sum(alpha * cost(zc) for zc, yc in others if yc[lab])
                den = sum(alpha for zc, yc in others if yc[lab])
                if protos is not None:
                    num, den = num + cost(protos[lab]), den + 1
                if den > 0:
                    per_label.append(num / den)
            if per_label:
                losses.append(sum(per_label) / len(per_label))
        else:
            pos = [zc for zc, yc in others if any(yc[lab] for lab in labels)]
            num, den = sum(alpha * cost(v) for v in pos), alpha * len(pos)
            if protos is not None:
                num += sum(cost(protos[lab]) for lab in labels)
                den += len(labels)
            if den > 0:
                losses.append(num / den)
    return sum(losses) / len(losses)


@pytest.mark.parametrize("labelwise", [True, False])
@pytest.mark.parametrize("use_queue", [True, False])
@pytest.mark.parametrize("use_protos", [True, False])
def test_matches_the_loop(labelwise: bool, use_queue: bool, use_protos: bool) -> None:
    z, qz, protos = _unit(6, 0), _unit(2, 1), _unit(3, 2)
    y = torch.tensor(Y, dtype=torch.float64)
    args = dict(queue_z=qz if use_queue else None, queue_y=torch.tensor(QY, dtype=torch.float64) if use_queue else None,
                prototypes=protos if use_protos else None, temperature=0.5, alpha=0.7, beta=0.2,
                labelwise=labelwise)
    got = float(abalone_loss(z, y, **args))
    want = _loop(z, Y, qz if use_queue else None, QY, protos if use_protos else None, 0.5, 0.7, 0.2, labelwise)
    assert got == pytest.approx(want, rel=1e-9)


def test_all_components_off_is_supcon_with_any_shared_label() -> None:
    z, y = _unit(6, 3), torch.tensor(Y, dtype=torch.float64)
    ours = abalone_loss(z, y, temperature=0.3, beta=1.0, labelwise=False)
    ref = supcon_loss(z, any_shared_label(y), temperature=0.3, similarity="dot")
    assert float(ours) == pytest.approx(float(ref), rel=1e-9)


def test_gradcheck_and_batch_order_and_empty_batch() -> None:
    z = _unit(6, 4).requires_grad_(True)
    y, protos = torch.tensor(Y, dtype=torch.float64), _unit(3, 5).requires_grad_(True)
    fn = lambda a, p: abalone_loss(a, y, _unit(2, 6), torch.tensor(QY, dtype=torch.float64), p)  # noqa: E731
    torch.autograd.gradcheck(fn, (z, protos))
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    with torch.no_grad():
        shuffled = abalone_loss(z[perm], y[perm], _unit(2, 6), torch.tensor(QY, dtype=torch.float64), protos)
        assert float(fn(z, protos)) == pytest.approx(float(shuffled), rel=1e-12)
    empty = abalone_loss(z, torch.zeros(6, 3, dtype=torch.float64))
    assert float(empty.detach()) == 0.0 and empty.requires_grad


def test_queue_wraps_around_and_keeps_the_newest() -> None:
    q = MemoryQueue(size=4, dim=1, num_labels=1)
    assert q.contents()[0].shape == (0, 1)
    q.enqueue(torch.tensor([[1.0], [2.0], [3.0]]), torch.ones(3, 1))
    q.enqueue(torch.tensor([[4.0], [5.0]]), torch.zeros(2, 1))
    z, y = q.contents()
    assert z[:, 0].tolist() == [5.0, 2.0, 3.0, 4.0] and int(q.ptr) == 1 and y[:, 0].tolist() == [0, 1, 1, 0]
    q.enqueue(torch.arange(10.0, 16.0)[:, None], torch.ones(6, 1))  # more than fits
    assert sorted(q.contents()[0][:, 0].tolist()) == [12.0, 13.0, 14.0, 15.0]


def test_momentum_copy_moves_towards_the_model() -> None:
    model = torch.nn.Linear(2, 1)
    ema = MomentumCopy(0.9)
    ema.attach(model)
    assert ema.model is not None
    before = ema.model.weight.clone()
    with torch.no_grad():
        model.weight.add_(1.0)
    ema.update(model)
    torch.testing.assert_close(ema.model.weight, 0.9 * before + 0.1 * model.weight)
    assert not any(p.requires_grad for p in ema.model.parameters())


def test_hooks_fill_the_queue_with_momentum_keys() -> None:
    from labelwise.models import build_model

    torch.manual_seed(0)
    model = build_model({"name": "cnn", "embed_dim": 8, "kernel_sizes": [2], "num_filters": 4},
                        {"name": "linear"}, 30, 0, 3, projection={"dim": 5})
    loss = build_loss({"name": "abalone", "queue_size": 6}, {"task": "multilabel", "num_labels": 3,
                                                             "embed_dim": 5})
    loss.attach(model)
    ids = torch.randint(1, 30, (4, 7))
    batch = Batch(ids, torch.ones(4, 7, dtype=torch.bool), torch.tensor(Y[:4], dtype=torch.float32))
    loss.before_loss(batch)
    out = model(batch.input_ids, batch.attention_mask)
    total = loss(out, batch.targets).total
    total.backward()
    assert loss.prototypes is not None and loss.prototypes.grad is not None
    loss.after_step(model)
    z, y = loss.queue.contents()
    assert z.shape == (4, 5) and torch.equal(y, batch.targets)
    torch.testing.assert_close(z, F.normalize(loss.momentum.model(ids, batch.attention_mask).embeddings, dim=1))
    assert "queue.embeddings" in loss.state_dict() and "prototypes" in loss.state_dict()


def test_errors() -> None:
    with pytest.raises(ValueError, match="multi-label"):
        build_loss({"name": "abalone"}, {"task": "multiclass", "num_labels": 2, "embed_dim": 4})
    loss = build_loss({"name": "abalone"}, {"task": "multilabel", "num_labels": 3, "embed_dim": 4})
    with pytest.raises(ValueError, match="projection"):
        loss(ModelOutput(logits=torch.zeros(2, 3)), torch.zeros(2, 3))
