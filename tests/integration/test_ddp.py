"""Data-parallel training under torchrun (2 processes, gloo on CPU) against one process.

With dropout 0 the model is deterministic, so 2 processes must train the model of one
process: the same loss at every step, validation metrics at every evaluation, final
weights and test metrics, up to float rounding (tolerance 1e-5 on losses and weights,
1e-4 on metrics; measured differences are about 1e-7). The batch size 5 splits 3 + 2,
so the uneven case is what is tested.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

WORKER = Path(__file__).with_name("ddp_worker.py")
WORDS = {"pos": ["good", "great", "fine", "nice", "lovely"], "neg": ["bad", "awful", "poor", "sad", "ugly"],
         "mid": ["ok", "meh", "so", "average", "plain"]}
SUPCON = "loss={name: combined, parts: [{name: ce}, {name: supcon, weight: 0.2}]}"


def _torchrun() -> str:
    exe = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
    if exe is None:
        pytest.skip("torchrun not found")
    return exe


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """64 training, 24 validation and 24 test texts of 3 classes, as JSONL files."""
    folder = tmp_path_factory.mktemp("ddp-data")
    rng = random.Random(0)
    for split, n in (("train", 64), ("valid", 24), ("test", 24)):
        lines = []
        for i in range(n):
            lab = ["pos", "neg", "mid"][i % 3]
            words = [rng.choice(WORDS[lab]) for _ in range(rng.randint(3, 9))]
            words.append(rng.choice(WORDS[rng.choice(list(WORDS))]))
            lines.append(json.dumps({"text": " ".join(words), "labels": [lab]}))
        (folder / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def _train(data: Path, out: Path, nproc: int, *sets: str, resume: bool = False) -> str:
    """``labelwise train`` in 1 process (python -m) or ``nproc`` (torchrun); its stdout."""
    base = [
        "model.encoder={name: cnn, embed_dim: 16, num_filters: 8, kernel_sizes: [2, 3], dropout: 0.0}",
        "model.head={name: linear, dropout: 0.0}", "tokenizer.vocab_size=100", "tokenizer.max_length=16",
        f"data.train={data / 'train.jsonl'}", f"data.valid={data / 'valid.jsonl'}",
        f"data.test={data / 'test.jsonl'}", "train.epochs=3", "train.batch_size=5", "train.eval_every=3",
        "train.patience=null", "train.progress=false", "train.tensorboard=false", "train.lr=0.01",
        "train.log_every=1", "train.schedule=constant", "train.warmup_ratio=0",
    ]
    args = ["train", "--output", str(out), *[a for s in (*base, *sets) for a in ("--set", s)]]
    if resume:
        args.append("--resume")
    if nproc == 1:
        cmd = [sys.executable, "-m", "labelwise", *args]
    else:
        cmd = [_torchrun(), "--standalone", "--nproc_per_node", str(nproc), "-m", "labelwise", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    return run.stdout


def _files(run: Path) -> list[str]:
    return sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file())


def _assert_same_training(a: Path, b: Path, check_files: bool = True) -> None:
    """The same losses, validation history, weights and test metrics (and files)."""
    if check_files:  # one set of files: nothing twice, no temporary leftovers
        assert _files(a) == _files(b)
        assert not [f for f in _files(b) if f.endswith(".tmp")]
    logs = [[json.loads(line) for line in (r / "log.jsonl").read_text().splitlines()] for r in (a, b)]
    assert [e["event"] for e in logs[0]] == [e["event"] for e in logs[1]]  # each line once
    for x, y in zip(*logs, strict=True):
        assert x.keys() == y.keys() and x["step"] == y["step"]
        for k, v in x.items():
            if isinstance(v, float):
                tol = 1e-5 if x["event"] == "train" else 1e-4
                assert y[k] == pytest.approx(v, abs=tol), (k, x, y)
    history = [json.loads((r / "trainer_state.json").read_text())["history"] for r in (a, b)]
    assert len(history[0]) == len(history[1]) > 5
    for x, y in zip(*history, strict=True):
        assert x.keys() == y.keys()
        assert all(y[k] == pytest.approx(x[k], abs=1e-4) for k in x), (x, y)
    wa, wb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert wa.keys() == wb.keys()
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], atol=1e-5, rtol=0)
    ma, mb = (json.loads((r / "metrics.json").read_text()) for r in (a, b))
    for split in ("valid", "test"):
        assert ma[split].keys() == mb[split].keys()
        assert all(mb[split][k] == pytest.approx(v, abs=1e-4) for k, v in ma[split].items())


def test_distributed_helpers_and_contrastive_gradients(tmp_path: Path) -> None:
    """Gathering with uneven row counts, and one data-parallel step of supcon, mlcl and
    abalone (split 4 + 3) giving the one-process gradient (see ddp_worker.py)."""
    cmd = [_torchrun(), "--standalone", "--nproc_per_node", "2", str(WORKER), str(tmp_path)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert run.returncode == 0, run.stderr[-4000:]
    reports = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    for rep in reports:
        assert rep["all_gather_rows"] and rep["gather_with_grad"] and rep["abalone_queue"]
        assert max(rep[k] for k in ("supcon_grad_diff", "mlcl_grad_diff", "abalone_grad_diff")) < 1e-5


def test_two_processes_train_what_one_does_and_resume(data: Path, tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    _train(data, one, 1)
    out = _train(data, two, 2)
    assert out.count("run directory:") == 1  # rank 0 alone prints
    _assert_same_training(one, two)
    # stopped after 9 of 13 steps of the first epoch, resumed by 2 processes
    cut = tmp_path / "cut"
    _train(data, cut, 2, "train.max_steps=9")
    assert json.loads((cut / "trainer_state.json").read_text())["step"] == 9
    _train(data, cut, 2, "train.max_steps=null", resume=True)
    _assert_same_training(one, cut, check_files=False)


def test_two_processes_with_supcon_match_one(data: Path, tmp_path: Path) -> None:
    """Contrastive embeddings gathered across processes: the same training as one."""
    one, two = tmp_path / "one", tmp_path / "two"
    _train(data, one, 1, SUPCON)
    _train(data, two, 2, SUPCON)
    _assert_same_training(one, two)
    parts = json.loads((two / "log.jsonl").read_text().splitlines()[0])
    assert {"ce", "supcon"} <= parts.keys()
