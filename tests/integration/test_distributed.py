"""The memory queue under torch.distributed: two real processes (torchrun, gloo)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

WORKER = Path(__file__).with_name("dist_queue_worker.py")


def _torchrun() -> list[str]:
    exe = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
    if exe is None:
        pytest.skip("torchrun not found")
    return [exe]


def test_queue_is_identical_on_every_process(tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [*_torchrun(), "--standalone", "--nproc_per_node", "2", str(WORKER), str(tmp_path)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    a, b = (load_file(tmp_path / f"rank{r}.safetensors") for r in (0, 1))
    assert set(a) == set(b)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert int(a["filled"]) == 5 and int(a["ptr"]) == 12 % 5
    # the newest entries are step 3's rows from rank 0 then rank 1, gathered in rank order
    g0, g1 = torch.Generator().manual_seed(100), torch.Generator().manual_seed(101)
    rows = {0: [], 1: []}
    for _ in range(3):
        for r, g in ((0, g0), (1, g1)):
            rows[r].append(torch.randn(2, 3, generator=g))
            torch.rand(2, 2, generator=g)
    newest = torch.cat([rows[0][2], rows[1][2]])  # written at slots 8..11 % 5 = 3, 4, 0, 1
    torch.testing.assert_close(a["embeddings"][[3, 4, 0, 1]], newest)
