"""Every failure a user can cause, through the real command in a subprocess: no traceback,
one error line that names the option, file and line, or key, the documented exit code
(:mod:`labelwise.errors`), and nothing that existed before is changed."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from labelwise.cli import main
from labelwise.errors import EXIT_RUN_DIR, EXIT_SYSTEM, EXIT_USAGE

GOOD = [{"text": f"text number {i} about {'cats' if i % 2 else 'dogs'}",
         "labels": ["cat" if i % 2 else "dog"]} for i in range(24)]
TINY = ["--set", "model.encoder={name: cnn, embed_dim: 8, num_filters: 4, kernel_sizes: [2]}",
        "--set", "tokenizer.vocab_size=120", "--set", "train.epochs=1",
        "--set", "train.progress=false", "--set", "train.tensorboard=false"]


@dataclass
class Case:
    argv: list[str]
    code: int
    names: str  # what the message must name (an option, a file and line, a key)
    needs: str = ""  # "mount": runs in a private mount namespace with a read-only tmpfs


def _write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def _lines(rows: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trained run, copies of it damaged in three ways, good and bad files."""
    w = tmp_path_factory.mktemp("cli")
    train = _write(w / "train.jsonl", _lines(GOOD))
    assert main(["train", "-o", str(w / "run"), "--set", f"data.train={train}", *TINY]) == 0
    _write(w / "in.txt", "a text about cats\nanother about dogs\n")
    _write(w / "existing.jsonl", '{"kept": true}\n')
    (w / "adir").mkdir()
    (w / "foreign").mkdir()
    _write(w / "foreign" / "notes.txt", "mine")
    _write(w / "afile", "not a folder")
    _write(w / "bad.csv", 'text,labels\nhello,"a|b\nworld,c\nmore,d\n')
    _write(w / "deep.jsonl", _lines(GOOD[:1]) + "[" * 100_000 + "]" * 100_000 + "\n")
    _write(w / "surrogate.jsonl", '{"text": "x\\ud800", "labels": ["a"]}\n')
    _write(w / "latin1.jsonl", b'{"text": "caf\xe9", "labels": ["a"]}\n')
    _write(w / "nolabels.jsonl", '{"text": "no labels here"}\n')
    bomb = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    bomb += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    _write(w / "bomb.yaml", "\n".join(bomb) + "\nmetrics: [" + ", ".join(["*a8"] * 9) + "]\n")
    _write(w / "cyc.yaml", "train: &x\n  foo: *x\n")
    _write(w / "broken.yaml", "train: {epochs: [\n")
    _write(w / "list.yaml", "- a\n- b\n")
    flipped = w / "flipped"
    shutil.copytree(w / "run", flipped)
    data = bytearray((flipped / "model.safetensors").read_bytes())
    data[-3] ^= 0x40  # a flipped bit in the weights: the file still parses
    (flipped / "model.safetensors").write_bytes(bytes(data))
    old = w / "oldformat"
    shutil.copytree(w / "run", old)
    info = json.loads((old / "run.json").read_text())
    (old / "run.json").write_text(json.dumps({**info, "format_version": 99}))
    nolabels = w / "nolabelsrun"
    shutil.copytree(w / "run", nolabels)
    (nolabels / "labels.json").unlink()
    return w


def _cases(w: Path, busy_port: int) -> dict[str, Case]:
    run, inp = str(w / "run"), str(w / "in.txt")
    data = ["--set", f"data.train={w / 'train.jsonl'}", *TINY]
    new = str(w / "new-run")

    def train(*extra: str, output: str = new) -> list[str]:
        return ["train", "-o", output, *data, *extra]

    return {
        # options out of range or malformed: argparse names the option
        "top-k zero": Case(["predict", run, inp, "--top-k", "0"], EXIT_USAGE, "--top-k"),
        "top-k not a number": Case(["predict", run, inp, "--top-k", "abc"], EXIT_USAGE, "--top-k"),
        "batch size negative": Case(["predict", run, inp, "--batch-size", "-3"], EXIT_USAGE, "--batch-size"),
        "port too high": Case(["serve", run, "--port", "70000"], EXIT_USAGE, "--port"),
        "timeout zero": Case(["serve", run, "--timeout", "0"], EXIT_USAGE, "--timeout"),
        "max texts zero": Case(["serve", run, "--max-texts", "0"], EXIT_USAGE, "--max-texts"),
        "profile length zero": Case(["profile", "--length", "0"], EXIT_USAGE, "--length"),
        "opset too old": Case(["export", run, "--opset", "3"], EXIT_USAGE, "--opset"),
        "unknown flag": Case(["train", "--epochs", "3"], EXIT_USAGE, "--epochs"),
        "unknown list kind": Case(["list", "widgets"], EXIT_USAGE, "widgets"),
        # paths and combinations
        "predict output is the input": Case(["predict", run, inp, "-o", inp], EXIT_USAGE, "is the input file"),
        "predict resume into the input": Case(["predict", run, inp, "-o", inp, "--resume"], EXIT_USAGE,
                                              "is the input file"),
        "predict output exists": Case(["predict", run, inp, "-o", str(w / "existing.jsonl")], EXIT_USAGE,
                                      "existing.jsonl' already exists"),
        "predict output is a folder": Case(["predict", run, inp, "-o", str(w / "adir")], EXIT_USAGE,
                                           "adir' is a directory"),
        "predict input missing": Case(["predict", run, str(w / "nope.txt")], EXIT_USAGE, "nope.txt' does not exist"),
        "predict input is a folder": Case(["predict", run, str(w / "adir")], EXIT_USAGE, "adir' is a directory"),
        "predict run missing": Case(["predict", str(w / "norun"), inp], EXIT_USAGE, "norun' does not exist"),
        "predict run is not a run": Case(["predict", str(w / "foreign"), inp], EXIT_USAGE, "no run.json"),
        "predict resume without output": Case(["predict", run, inp, "--resume"], EXIT_USAGE, "--resume needs --output"),
        "predict resume and overwrite": Case(["predict", run, inp, "-o", str(w / "o.jsonl"), "--resume",
                                              "--overwrite"], EXIT_USAGE, "give one of them"),
        "evaluate data missing": Case(["evaluate", run, "--data", str(w / "nope.jsonl")], EXIT_USAGE,
                                      "--data '"),
        "evaluate a file-trained run without data": Case(["evaluate", run], EXIT_USAGE, "--data"),
        "export out is a file": Case(["export", run, "--out", str(w / "afile")], EXIT_USAGE, "--out '"),
        "serve not a run": Case(["serve", str(w / "foreign")], EXIT_USAGE, "no run.json"),
        "serve on an unknown host": Case(["serve", run, "--host", "999.1.1.1"], EXIT_USAGE, "--host '999.1.1.1'"),
        "serve on a busy port": Case(["serve", run, "--port", str(busy_port)], EXIT_SYSTEM,
                                     f"127.0.0.1:{busy_port}: Address already in use"),
        "data dir is a file": Case(train("--data-dir", str(w / "afile")), EXIT_USAGE, "--data-dir '"),
        "data dir missing": Case(train("--data-dir", str(w / "nodir")), EXIT_USAGE, "nodir' does not exist"),
        "fetch into a file": Case(["data", "fetch", "sst2", "--data-dir", str(w / "afile")], EXIT_USAGE,
                                  "afile' (from --data-dir) is a file"),
        "fetch without a name": Case(["data", "fetch"], EXIT_USAGE, "needs a dataset name"),
        "unknown dataset": Case(["data", "show", "nosuchset"], EXIT_USAGE, "nosuchset"),
        "train output is a file": Case(train(output=str(w / "afile")), EXIT_USAGE, "afile' is a file"),
        "train over a finished run": Case(train(output=run), EXIT_USAGE, "--overwrite"),
        "resume a finished run": Case(train("--resume", output=run), EXIT_USAGE, "is complete"),
        "resume without output": Case(["train", "--resume"], EXIT_USAGE, "--resume needs --output"),
        "resume a missing run": Case(train("--resume", output=str(w / "norun")), EXIT_USAGE,
                                     "norun' does not exist"),
        "train into a foreign folder": Case(train("--overwrite", output=str(w / "foreign")), EXIT_USAGE,
                                            "not a labelwise run directory"),
        "resume and overwrite": Case(train("--resume", "--overwrite", output=run), EXIT_USAGE,
                                     "give one of them"),
        "tune space missing": Case(["tune", "--space", str(w / "nospace.yaml"), "-o", str(w / "tunes")],
                                   EXIT_USAGE, "--space '"),
        # configs
        "config missing": Case(["train", "--config", str(w / "nope.yaml")], EXIT_USAGE, "nope.yaml"),
        "config is a folder": Case(["train", "--config", str(w / "adir")], EXIT_USAGE, "adir' is a directory"),
        "alias bomb": Case(["train", "--config", str(w / "bomb.yaml")], EXIT_USAGE, "bomb.yaml: the YAML expands"),
        "self-referring alias": Case(["train", "--config", str(w / "cyc.yaml")], EXIT_USAGE, "cyc.yaml:1:"),
        "broken yaml": Case(["train", "--config", str(w / "broken.yaml")], EXIT_USAGE,
                            "broken.yaml:2: not valid YAML"),
        "yaml list": Case(["train", "--config", str(w / "list.yaml")], EXIT_USAGE, "list.yaml: the top level"),
        "huge learning rate": Case(train("--set", "train.lr=1e30"), EXIT_USAGE, "'train.lr'"),
        "misspelt key": Case(train("--set", "train.lrr=1"), EXIT_USAGE, "'train.lrr'"),
        "override without value": Case(train("--set", "train.lr"), EXIT_USAGE, "key=value"),
        "unknown encoder": Case(train("--set", "model.encoder.name=nope"), EXIT_USAGE, "nope"),
        "negative epochs": Case(train("--set", "train.epochs=-1"), EXIT_USAGE, "'train.epochs'"),
        # data files
        "csv unclosed quote": Case(train("--set", f"data.train={w / 'bad.csv'}"), EXIT_USAGE, "bad.csv:2:"),
        "jsonl nested 100,000 deep": Case(train("--set", f"data.train={w / 'deep.jsonl'}"), EXIT_USAGE,
                                          "deep.jsonl:2:"),
        "lone surrogate": Case(train("--set", f"data.train={w / 'surrogate.jsonl'}"), EXIT_USAGE,
                               "surrogate.jsonl:1:"),
        "latin-1 bytes": Case(train("--set", f"data.train={w / 'latin1.jsonl'}"), EXIT_USAGE, "latin1.jsonl:1:"),
        "training file missing": Case(train("--set", f"data.train={w / 'gone.jsonl'}"), EXIT_USAGE, "gone.jsonl"),
        "evaluate without labels": Case(["evaluate", run, "--data", str(w / "nolabels.jsonl")], EXIT_USAGE,
                                        "nolabels.jsonl:1:"),
        "predict deep json": Case(["predict", run, str(w / "deep.jsonl")], EXIT_USAGE, "deep.jsonl:2:"),
        # damaged run directories
        "flipped bit in the weights": Case(["predict", str(w / "flipped"), inp], EXIT_RUN_DIR,
                                           "model.safetensors' differs"),
        "other format version": Case(["evaluate", str(w / "oldformat"), "--data", str(w / "train.jsonl")],
                                     EXIT_RUN_DIR, "format_version"),
        "labels.json missing": Case(["predict", str(w / "nolabelsrun"), inp], EXIT_RUN_DIR, "labels.json"),
        # the operating system refuses
        "full disk": Case(["predict", run, inp, "-o", "/dev/full", "--overwrite"], EXIT_SYSTEM,
                          "/dev/full: No space left on device"),
        "read-only file system": Case(train(output="READONLY/run"), EXIT_SYSTEM, "Read-only file system",
                                      needs="mount"),
    }


def _can_mount() -> bool:
    if sys.platform != "linux" or os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o ro tmpfs /mnt"],
                           capture_output=True)
    return probe.returncode == 0


def _run(case: Case, cwd: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "labelwise", *case.argv]
    if case.needs == "mount":  # a read-only tmpfs in a private mount namespace, gone on exit
        ro = cwd / "ro"
        ro.mkdir(exist_ok=True)
        cmd = ["unshare", "-m", "sh", "-c", f'mount -t tmpfs -o ro tmpfs "{ro}" && exec "$@"', "sh",
               *[a.replace("READONLY", str(ro)) for a in cmd]]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


def _snapshot(d: Path) -> dict[str, str]:
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(d.rglob("*")) if p.is_file()}


def test_every_user_mistake_is_one_clear_line(world: Path) -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    cases = _cases(world, busy.getsockname()[1])
    assert len(cases) >= 40
    if not _can_mount():
        cases = {k: c for k, c in cases.items() if c.needs != "mount"}
    before = _snapshot(world)
    with ThreadPoolExecutor(3) as pool:
        results = dict(zip(cases, pool.map(lambda c: _run(c, world), cases.values()), strict=True))
    problems = []
    for name, case in cases.items():
        got = results[name]
        lines = [ln for ln in got.stderr.splitlines()  # less notes and progress bars
                 if ln.strip() and not ln.startswith("labelwise: note:") and "━" not in ln]
        usage = [ln for ln in lines if ln.startswith("usage:") or ln.startswith("  ")]  # argparse's
        errors = [ln for ln in lines if ln not in usage]
        if got.returncode != case.code:
            problems.append(f"{name}: exit {got.returncode}, expected {case.code}")
        if "Traceback" in got.stderr:
            problems.append(f"{name}: traceback")
        if len(errors) != 1 or ": error: " not in errors[0]:
            problems.append(f"{name}: expected one error line, got {errors}")
        elif case.names not in errors[0]:
            problems.append(f"{name}: {case.names!r} not named in: {errors[0]}")
    busy.close()
    assert not problems, "\n".join(problems)
    assert _snapshot(world) == before  # nothing that existed was changed
    assert not (world / "new-run").exists()
