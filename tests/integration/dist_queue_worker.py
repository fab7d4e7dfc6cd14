"""Run by torchrun (2 processes, gloo): each process enqueues different embeddings and
saves what its queue holds, so the test can compare the processes."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors.torch import save_file

from labelwise.losses.memory import MemoryQueue


def main(out_dir: str) -> None:
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    q = MemoryQueue(size=5, dim=3, num_labels=2)
    g = torch.Generator().manual_seed(100 + rank)  # each process sees different data
    for _ in range(3):  # 3 steps x 2 processes x 2 rows = 12 entries through a queue of 5
        q.enqueue(torch.randn(2, 3, generator=g), (torch.rand(2, 2, generator=g) > 0.5).float())
    save_file({k: v.contiguous() for k, v in q.state_dict().items()}, str(Path(out_dir) / f"rank{rank}.safetensors"))
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
