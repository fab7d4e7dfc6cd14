"""Multi-process training with ``torch.distributed``: one process per device, started by
``torchrun`` (gloo on CPU, nccl on GPU).

How a step of ``P`` processes equals a step of one process (see
:class:`labelwise.training.loop.Trainer`):

* **Sampling.** Every process computes the same per-epoch batch order (same seed) and
  takes a contiguous slice of each batch (:func:`split_rows`), so the global batch, the
  number of steps and the learning-rate schedule are those of one process, and gathering
  the slices in rank order gives back the batch in its original order.
* **Gradients.** Process ``r`` holds ``n_r`` of the batch's ``n`` documents and
  back-propagates ``P * n_r / n`` times its loss; DistributedDataParallel averages the
  gradients (divides their sum by ``P``), which for a loss that is a mean over documents
  gives ``sum_r (n_r / n) * grad(mean_r) = grad(mean over the batch)``: the one-process
  gradient, also when the last batch does not split evenly.
* **Contrastive losses** need every pair of the global batch. They gather the embeddings
  (:func:`gather_for_contrast`, the local rows keeping their gradient) and compute the
  loss of the whole batch on every process; the local rows then receive exactly their
  share of the one-process gradient, and multiplying that term's gradient by ``n / n_r``
  (value unchanged, :func:`scale_grad`) makes the trainer's ``P * n_r / n`` and DDP's
  ``1 / P`` cancel.
* **A loss's own parameters** (MLCL's heads, ABALONE's prototypes) are not in DDP; the
  trainer averages their gradients the same way. MLCL's heads run on the local rows
  before gathering, so they follow the rule above; ABALONE's prototypes meet every row
  on every process, so each process already has their whole gradient, and ABALONE
  scales it by ``1 / P``.
* **Logged loss.** ``sum_r (n_r / n) * loss_r`` over processes: the one-process value.
* **Exactness.** For losses that are plain means over documents (or rows), and the
  contrastive losses above, the step equals one process's up to float rounding. A
  weighted mean whose denominator depends on the batch (``ce`` with
  ``class_weight: balanced``, per-level losses that skip rows without a positive) is
  averaged per process instead: close, not identical. A batch with fewer documents than
  processes (only the last batch of an epoch can be) is skipped by every process.

Outside ``torchrun`` (``WORLD_SIZE`` unset or 1) every function here is the identity or a
no-op, so single-process code needs no branches.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands in the job.

    rank: 0..world_size-1, the process's place; rank 0 writes the run directory.
    world_size: number of processes (1 without torchrun).
    local_rank: the process's place on its machine (picks its GPU).
    device: where the tensors of collective operations live (``cuda:local_rank`` with
        nccl, cpu with gloo or without distribution).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


_COMM_DEVICE = torch.device("cpu")


def env_world_size() -> int:
    """``WORLD_SIZE`` as torchrun sets it; 1 when unset."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def is_distributed() -> bool:
    """Whether a process group of more than one process is running."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def rank() -> int:
    """This process's rank: from the process group when one runs, else ``RANK`` from the
    environment of a torchrun job of several processes (so a worker knows it is not the
    main one after ``cleanup``), else 0."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", "0") or 0) if env_world_size() > 1 else 0


def is_main() -> bool:
    """True on the process that writes files and prints (rank 0)."""
    return rank() == 0


def info() -> DistInfo:
    """The current :class:`DistInfo` (rank 0 of 1 when not distributed)."""
    if not is_distributed():
        return DistInfo()
    return DistInfo(dist.get_rank(), dist.get_world_size(),
                    int(os.environ.get("LOCAL_RANK", "0") or 0), _COMM_DEVICE)


def _wants_cuda(device: str) -> bool:
    if device == "auto":
        return torch.cuda.is_available()
    return torch.device(device).type == "cuda"


def init_from_env(device: str = "auto") -> DistInfo:
    """Join the job torchrun started, when ``WORLD_SIZE`` > 1; otherwise do nothing.

    ``device`` is the training device as configured (``train.device``): a CUDA one uses
    nccl and sets this process's GPU to ``LOCAL_RANK``; cpu uses gloo. Rendezvous comes
    from torchrun's environment (``MASTER_ADDR``, ``MASTER_PORT``, ``RANK``). Calling it
    again while the group runs returns the current :class:`DistInfo`.
    """
    global _COMM_DEVICE
    if env_world_size() <= 1 or not dist.is_available():
        return DistInfo()
    if dist.is_initialized():
        return info()
    local_rank = int(os.environ.get("LOCAL_RANK", "0") or 0)
    # torch._dynamo (imported lazily by DDP and the optimizers) keeps a reference to a
    # process group that exists when it is first imported: the group then outlives
    # destroy_process_group() and its threads can abort the process at exit. Imported
    # before the group exists, it holds none.
    import torch._dynamo  # noqa: F401
    if _wants_cuda(device):
        torch.cuda.set_device(local_rank)
        _COMM_DEVICE = torch.device("cuda", local_rank)
        dist.init_process_group("nccl")
    else:
        _COMM_DEVICE = torch.device("cpu")
        dist.init_process_group("gloo")
    return info()


def cleanup() -> None:
    """Leave the process group (after a barrier, so no process leaves while another
    still needs it)."""
    if dist.is_available() and dist.is_initialized():
        if dist.get_world_size() > 1:
            dist.barrier()
        dist.destroy_process_group()


@contextmanager
def session(device: str = "auto") -> Iterator[DistInfo]:
    """:func:`init_from_env` on entry; :func:`cleanup` on exit, but only when this call
    started the group (nested sessions, e.g. the runner's around the estimator's, share
    the outer one)."""
    started = env_world_size() > 1 and dist.is_available() and not dist.is_initialized()
    current = init_from_env(device)
    try:
        yield current
    except BaseException:
        if started and dist.is_initialized():
            dist.destroy_process_group()  # no barrier: the other processes may never come
        raise
    if started:
        cleanup()


def training_device(device: torch.device) -> torch.device:
    """The device this process trains on: under a nccl group every CUDA device becomes
    this process's own GPU (``cuda:LOCAL_RANK``); otherwise ``device`` unchanged."""
    if is_distributed() and device.type == "cuda":
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0") or 0))
    return device


def barrier() -> None:
    """Wait for every process; a no-op when not distributed."""
    if is_distributed():
        dist.barrier()


def split_rows(n: int, rank: int, world_size: int) -> slice:
    """The contiguous slice of ``n`` rows that ``rank`` takes (``np.array_split`` sizes:
    the first ``n % world_size`` ranks get one more), so the slices in rank order are the
    rows in order."""
    base, extra = divmod(n, world_size)
    start = rank * base + min(rank, extra)
    return slice(start, start + base + (1 if rank < extra else 0))


def _gather(t: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
    """All-gather rows of different counts: pad to the largest count, gather, trim."""
    ws = dist.get_world_size()
    x = t.detach()
    if x.dtype == torch.bool:  # gathered as bytes: not every backend takes bool
        out, sizes = _gather(x.to(torch.uint8))
        return out.bool(), sizes
    x = x.to(_COMM_DEVICE).contiguous()
    n = torch.tensor([x.shape[0]], dtype=torch.long, device=_COMM_DEVICE)
    counts = [torch.zeros_like(n) for _ in range(ws)]
    dist.all_gather(counts, n)
    sizes = [int(c.item()) for c in counts]
    most = max(sizes)
    if x.shape[0] < most:
        x = torch.cat([x, x.new_zeros((most - x.shape[0], *x.shape[1:]))])
    parts = [torch.empty_like(x) for _ in range(ws)]
    dist.all_gather(parts, x)
    out = torch.cat([p[:s] for p, s in zip(parts, sizes, strict=True)])
    return out.to(t.device), sizes


def all_gather_rows(t: torch.Tensor) -> torch.Tensor:
    """Concatenate ``t`` (n_r, ...) of every process in rank order (counts may differ,
    trailing dimensions may not); every process gets the same result, without gradient.
    ``t`` itself when not distributed."""
    if not is_distributed():
        return t
    return _gather(t)[0]


def gather_with_grad(t: torch.Tensor) -> torch.Tensor:
    """:func:`all_gather_rows`, but this process's rows are ``t`` itself, so gradients
    reach ``t`` (the other processes' rows are constants here). ``t`` when not
    distributed.

    A loss computed from the result on every process then gives each process the
    gradient of its own rows; DDP adds the processes' contributions up.
    """
    if not is_distributed():
        return t
    full, sizes = _gather(t)
    start = sum(sizes[: dist.get_rank()])
    return torch.cat([full[:start], t, full[start + t.shape[0]:]])


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """The element-wise sum of ``t`` over processes (a new tensor); ``t`` when not
    distributed."""
    if not is_distributed():
        return t
    x = t.detach().to(_COMM_DEVICE).clone()
    dist.all_reduce(x, op=dist.ReduceOp.SUM)
    return x.to(t.device)


def scale_grad(x: torch.Tensor, factor: float) -> torch.Tensor:
    """``x`` with the same value, whose gradient is multiplied by ``factor``."""
    if factor == 1.0:
        return x
    return x.detach() + (x - x.detach()) * factor


def gather_for_contrast(
    z: torch.Tensor, targets: torch.Tensor, views: int = 1
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """The embeddings and targets of the whole global batch, for a contrastive loss.

    Returns ``(z_all, targets_all, grad_factor)``: ``z_all`` keeps the gradient of this
    process's rows (:func:`gather_with_grad`); multiply the gradient of the loss computed
    from them by ``grad_factor`` = global rows / local rows with :func:`scale_grad` (see
    the module docstring: the trainer scales every loss by ``P * local / global`` for
    DDP's mean, and this term is the whole batch's on every process). ``views`` > 1:
    ``z`` is ``views`` stacked blocks of ``targets.shape[0]`` rows (``[view 1; view 2]``),
    gathered block by block so that ``z_all`` is ``[view 1 of all; view 2 of all]``.
    When not distributed: ``(z, targets, 1.0)``.
    """
    if not is_distributed():
        return z, targets, 1.0
    b = targets.shape[0]
    blocks = [gather_with_grad(z[v * b:(v + 1) * b]) for v in range(views)]
    z_all = blocks[0] if views == 1 else torch.cat(blocks)
    return z_all, all_gather_rows(targets), z_all.shape[0] / max(1, z.shape[0])


def shard_indices(n: int) -> np.ndarray:
    """This process's share of ``n`` items for sharded inference: a contiguous range
    (:func:`split_rows`), or all of them when not distributed or when there are fewer
    items than processes (then every process does all)."""
    ws = world_size()
    if ws == 1 or n < ws:
        return np.arange(n)
    s = split_rows(n, rank(), ws)
    return np.arange(s.start, s.stop)
