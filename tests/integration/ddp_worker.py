"""Run by torchrun (2 processes, gloo) from test_ddp.py: checks :mod:`labelwise.distributed`
and the contrastive losses across real processes. Each process writes ``rank<R>.json``
with what it checked; an assertion error fails the run.

The gradient checks simulate one data-parallel step by hand, as the trainer does it: each
process takes its contiguous slice of a batch (sizes 4 and 3: uneven on purpose), scales
its loss by ``P * local / global``, and the gradients are averaged over the processes
(DDP's mean); the result must equal the gradient of the one-process loss on the batch.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F

from labelwise import distributed
from labelwise.losses.abalone import AbaloneLoss, abalone_loss
from labelwise.losses.mlcl import MLCLLoss
from labelwise.losses.positives import positive_weights
from labelwise.losses.supcon import SupConLoss, supcon_loss, two_view_weights
from labelwise.types import ModelOutput

N, D, P, L = 7, 5, 4, 3  # global batch, input width, embedding width, labels


def data_parallel_grads(
    params: list[torch.Tensor], local_loss: Callable[[slice], torch.Tensor], n: int
) -> list[torch.Tensor]:
    """Gradients of one data-parallel step: the trainer's scaling, then DDP's mean."""
    world, rank = dist.get_world_size(), dist.get_rank()
    rows = distributed.split_rows(n, rank, world)
    share = (rows.stop - rows.start) / n
    for p in params:
        p.grad = None
    (local_loss(rows) * (world * share)).backward()
    grads = []
    for p in params:
        g = p.grad.clone() if p.grad is not None else torch.zeros_like(p)
        dist.all_reduce(g)
        grads.append(g / world)
    return grads


def one_process_grads(params: list[torch.Tensor], loss: torch.Tensor) -> list[torch.Tensor]:
    return list(torch.autograd.grad(loss, params, allow_unused=False))


def close(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    worst = 0.0
    for x, y in zip(a, b, strict=True):
        torch.testing.assert_close(x, y, atol=1e-6, rtol=1e-5)
        worst = max(worst, float((x - y).abs().max()))
    return worst


def main(out_dir: str) -> None:
    info = distributed.init_from_env("cpu")
    rank, world = info.rank, info.world_size
    assert world == 2 and distributed.is_distributed()
    report: dict[str, float | int | bool] = {"rank": rank, "world": world}

    # ---- all_gather_rows: different row counts, any dtype, rank order
    mine = torch.arange(rank + 1, dtype=torch.float32)[:, None].repeat(1, 2) + 10 * rank  # (r+1, 2)
    full = distributed.all_gather_rows(mine)
    assert torch.equal(full, torch.tensor([[0.0, 0.0], [10.0, 10.0], [11.0, 11.0]])), full
    flags = distributed.all_gather_rows(torch.tensor([rank == 0, True, False][: rank + 1]))
    assert flags.dtype == torch.bool and flags.tolist() == [True, False, True], flags
    report["all_gather_rows"] = True

    # ---- gather_with_grad: the same values; gradient reaches only this process's rows
    x = torch.randn(rank + 2, 3, generator=torch.Generator().manual_seed(rank), requires_grad=True)
    y = distributed.gather_with_grad(x)
    assert torch.equal(y.detach(), distributed.all_gather_rows(x)) and y.shape == (5, 3)
    w = torch.arange(15, dtype=torch.float32).reshape(5, 3)
    (y * w).sum().backward()
    start = 0 if rank == 0 else 2
    assert x.grad is not None and torch.equal(x.grad, w[start:start + rank + 2])
    report["gather_with_grad"] = True

    g = torch.Generator().manual_seed(0)  # the same global batch on every process
    inputs = torch.randn(N, D, generator=g)
    classes = torch.tensor([0, 1, 0, 2, 1, 0, 2])
    multi = torch.tensor([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [0, 1, 1], [1, 0, 0]],
                         dtype=torch.float32)
    weight = torch.randn(D, P, generator=g).requires_grad_(True)  # a one-layer "encoder"

    # ---- supcon, two views: [view 1; view 2] of each process's slice
    supcon = SupConLoss()

    def supcon_local(rows: slice) -> torch.Tensor:
        z = inputs[rows] @ weight
        z2 = z * 1.5 + 0.1  # a second, different view
        return supcon(ModelOutput(logits=z, embeddings=torch.cat([z, z2])), classes[rows]).total

    z = inputs @ weight
    ref = supcon_loss(torch.cat([z, z * 1.5 + 0.1]), two_view_weights(positive_weights("same_class", classes)))
    report["supcon_grad_diff"] = close(data_parallel_grads([weight], supcon_local, N),
                                       one_process_grads([weight], ref))
    # the value each process reports is the whole batch's
    value = supcon_local(distributed.split_rows(N, rank, world))
    torch.testing.assert_close(value, ref, atol=1e-6, rtol=1e-6)

    # ---- mlcl: the loss's own heads (averaged like DDP's parameters) and the encoder
    mlcl = MLCLLoss(MLCLLoss.Config(heads="per_label", projection={"dim": 3, "layers": 1}))
    mlcl.setup({"task": "multilabel", "num_labels": L, "pooled_dim": P, "seed": 0})
    params = [weight, *mlcl.parameters()]

    def mlcl_local(rows: slice) -> torch.Tensor:
        pooled = inputs[rows] @ weight
        return mlcl(ModelOutput(logits=pooled, pooled=pooled), multi[rows]).total

    pooled = inputs @ weight
    ref = sum(supcon_loss(head(pooled), positive_weights("shares_label", multi, label=j))
              for j, head in enumerate(mlcl.heads))
    assert isinstance(ref, torch.Tensor)
    report["mlcl_grad_diff"] = close(data_parallel_grads(params, mlcl_local, N),
                                     one_process_grads(params, ref))

    # ---- abalone: prototypes (computed from the whole batch on every process)
    abalone = AbaloneLoss(AbaloneLoss.Config(queue_size=0))
    abalone.setup({"task": "multilabel", "num_labels": L, "embed_dim": P, "seed": 0})
    assert abalone.prototypes is not None
    params = [weight, abalone.prototypes]

    def abalone_local(rows: slice) -> torch.Tensor:
        return abalone(ModelOutput(logits=inputs[rows], embeddings=inputs[rows] @ weight), multi[rows]).total

    ref = abalone_loss(F.normalize(inputs @ weight, dim=1), multi, None, None,
                       F.normalize(abalone.prototypes, dim=1))
    report["abalone_grad_diff"] = close(data_parallel_grads(params, abalone_local, N),
                                        one_process_grads(params, ref))

    # ---- abalone's queue: uneven key counts, queued in the global batch's order
    queued = AbaloneLoss(AbaloneLoss.Config(queue_size=10))
    queued.setup({"task": "multilabel", "num_labels": L, "embed_dim": P, "seed": 0})
    rows = distributed.split_rows(N, rank, world)
    keys = F.normalize(inputs @ weight.detach(), dim=1)
    queued._keys = (keys[rows], multi[rows])
    queued.after_step(torch.nn.Linear(1, 1))
    assert queued.queue is not None
    qz, qy = queued.queue.contents()
    torch.testing.assert_close(qz, keys)
    assert torch.equal(qy, multi)
    report["abalone_queue"] = True

    (Path(out_dir) / f"rank{rank}.json").write_text(json.dumps(report))
    distributed.cleanup()


if __name__ == "__main__":
    main(sys.argv[1])
