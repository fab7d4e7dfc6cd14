"""Crash safety for real: a training process killed with SIGKILL at a random moment leaves
a readable run directory, and ``--resume`` finishes with the metrics of an uninterrupted run."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from labelwise.training.loop import checkpoint_files

WORDS = {"pos": ["good", "great", "fine", "nice", "lovely"], "neg": ["bad", "awful", "poor", "sad", "ugly"]}


def _data(tmp: Path) -> Path:
    rng = random.Random(0)
    lines = []
    for i in range(160):
        lab = "pos" if i % 2 else "neg"
        words = [rng.choice(WORDS[lab]) for _ in range(6)] + [rng.choice(WORDS["pos" if lab == "neg" else "neg"])]
        lines.append(json.dumps({"text": " ".join(words), "labels": [lab]}))
    path = tmp / "train.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def _cmd(train: Path, out: Path, *extra: str) -> list[str]:
    sets = ["model.encoder={name: cnn, embed_dim: 16, num_filters: 8, kernel_sizes: [2]}",
            "tokenizer.vocab_size=100", "tokenizer.max_length=12", f"data.train={train}",
            "train.epochs=8", "train.batch_size=8", "train.eval_every=3", "train.patience=null",
            "train.progress=false", "train.tensorboard=false", "train.lr=0.005"]
    return [sys.executable, "-m", "labelwise", "train", "--output", str(out),
            *[a for s in sets for a in ("--set", s)], *extra]


def _readable(run: Path) -> None:
    """Every checkpoint file that exists parses (atomic writes: old or new, never half)."""
    state = run / "trainer_state.json"
    if state.is_file():
        json.loads(state.read_text())
        for path in checkpoint_files(run).values():  # what the state names is complete
            load_file(path)
    for path in run.rglob("*.safetensors"):  # and no weights file anywhere is half-written
        load_file(path)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_sigkill_then_resume_matches_uninterrupted(tmp_path: Path) -> None:
    train = _data(tmp_path)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    full = tmp_path / "full"
    subprocess.run(_cmd(train, full), check=True, env=env, capture_output=True)

    cut = tmp_path / "cut"
    rng = random.Random(int(time.time()))
    proc = subprocess.Popen(_cmd(train, cut), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (cut / "trainer_state.json").is_file() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(rng.uniform(0.0, 0.2))  # somewhere later: mid-step or mid-write
    killed = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _readable(cut)
    if killed and (cut / "metrics.json").is_file():
        # the process was still alive but past its last write (interpreter exit): metrics
        # are written only after the run is saved whole
        assert json.loads((cut / "run.json").read_text())["status"] == "complete"
    # on a fast machine the run may have finished before the kill: a complete run has
    # nothing to resume (and refuses to), and is compared as it is
    if json.loads((cut / "run.json").read_text())["status"] != "complete":
        subprocess.run(_cmd(train, cut, "--resume"), check=True, env=env, capture_output=True)
    # the same validation metrics at every evaluation, and the same final weights
    history = [json.loads((r / "trainer_state.json").read_text())["history"] for r in (full, cut)]
    assert len(history[0]) == len(history[1]) > 2
    for a, b in zip(*history, strict=True):
        assert a.keys() == b.keys()
        assert all(a[k] == pytest.approx(b[k], abs=1e-6) for k in a), (a, b)
    wa, wb = load_file(full / "model.safetensors"), load_file(cut / "model.safetensors")
    assert all(torch.allclose(wa[k], wb[k], atol=1e-6) for k in wa)


@pytest.mark.parametrize("backend", ["neural", "linear"])
def test_every_run_file_is_written_by_rename(backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each file of a run directory arrives by an atomic rename of a finished temporary
    file; only the append-only training log (one flushed line per record) and TensorBoard's
    event files are written in place."""
    import os

    from labelwise import TextClassifier

    renamed: set[Path] = set()
    real_replace = os.replace

    def recording_replace(src, dst, *args, **kwargs):
        renamed.add(Path(dst).resolve())
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", recording_replace)
    texts = ["good great fine", "bad awful poor", "great good nice", "awful bad sad"] * 6
    labels = ["pos", "neg", "pos", "neg"] * 6
    cfg: dict = {"train": {"epochs": 2, "batch_size": 8, "progress": False, "tensorboard": False}}
    if backend == "linear":
        cfg = {"model": {"type": "linear"}}
    else:
        cfg["model"] = {"encoder": {"name": "cnn", "embed_dim": 8, "num_filters": 4, "kernel_sizes": [2]}}
        cfg["tokenizer"] = {"vocab_size": 100, "max_length": 8}
    from labelwise.types import Example

    TextClassifier(cfg).fit_examples([Example(t, (lab,)) for t, lab in zip(texts, labels, strict=True)],
                                     run_dir=tmp_path / "run")
    files = {p.resolve() for p in (tmp_path / "run").rglob("*") if p.is_file()}
    in_place = {p for p in files - renamed if p.name != "log.jsonl"}
    assert files and not in_place, sorted(str(p) for p in in_place)


def _stopped_before_first_checkpoint(run: Path, keep_config: bool) -> None:
    """Turn a finished run into one killed before its first checkpoint."""
    import shutil

    for name in ("trainer_state.json", "checkpoints", "model.safetensors", "decode.json", "metrics.json"):
        path = run / name
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    if not keep_config:
        (run / "config.yaml").unlink()
    info = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**info, "status": "training"}))


@pytest.mark.parametrize(("keep_config", "resume"), [(True, False), (True, True), (False, True)])
def test_a_run_killed_before_its_first_checkpoint_starts_again(tmp_path: Path, keep_config: bool,
                                                              resume: bool) -> None:
    """Before, --resume said there was no trainer state and a plain run said to use --resume."""
    train = _data(tmp_path)
    run = tmp_path / "run"
    cmd = _cmd(train, run, "--set", "train.epochs=1")
    subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    _stopped_before_first_checkpoint(run, keep_config)
    again = subprocess.run(cmd + (["--resume"] if resume else []), capture_output=True, text=True,
                           env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert again.returncode == 0, again.stderr
    assert "stopped before its first checkpoint: starting it again" in again.stderr
    assert json.loads((run / "run.json").read_text())["status"] == "complete"
