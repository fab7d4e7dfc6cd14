"""The full-size rows of the pretrained-encoder methods, for one GPU: what two CPU cores cannot
run. Meant to finish within 12 minutes on one H100 (bf16 autocast is chosen by
``train.precision: auto`` on a bf16 GPU); every row records its time, so the first run on a
GPU says how far that holds.

The rows, in the order they run (the most informative first); each is
``run_baselines.py`` with the row's seeds, tagged ``gpu``:

- IMDB, all 25,000 training reviews (a tenth held out for validation), 512 tokens, 3 epochs,
  seeds 13-15: ``multilevel-minilm+supcon`` against ``minilm+supcon``, then
  ``multilevel-minilm+ce`` and ``minilm+ce``.
- GoEmotions, all data, seeds 13-15: ``minilm+abalone`` against ``minilm+bce``.
- EURLEX57K, all data, 512 tokens, seed 13: ``plant-minilm`` against ``lant-minilm``.

Seeds of a row run side by side on the GPU (``--jobs``, default 3): one small encoder
leaves most of an H100 idle. A row that would start after ``--budget-minutes`` is skipped
and listed as such. ``--tiny`` runs every row at a toy size on the CPU (a test of the
script: 24 documents, 32 tokens, one epoch, one seed), into ``--out``.

    python benchmarks/gpu/full_size.py                  # on the GPU machine
    python benchmarks/gpu/full_size.py --dry-run        # the commands
    python benchmarks/gpu/full_size.py --tiny --out /tmp/gpu-tiny

Results: ``benchmarks/results/<dataset>__<system>@gpu.json`` (device: the GPU's name) and
``benchmarks/results/gpu/summary.json`` (each row's wall time, or why it did not run).
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SEEDS = (13, 14, 15)


@dataclass(frozen=True)
class Row:
    dataset: str
    system: str
    seeds: tuple[int, ...] = SEEDS
    sets: tuple[str, ...] = field(default_factory=tuple)
    tiny: tuple[str, ...] = field(default_factory=tuple)  # the row's own overrides at the toy size


ROWS = [
    *(Row("imdb", s, sets=("train.eval_batch_size=256",))
      for s in ("multilevel-minilm+supcon", "minilm+supcon", "multilevel-minilm+ce", "minilm+ce")),
    Row("goemotions", "minilm+abalone", sets=("train.eval_batch_size=512",), tiny=("pretrain.epochs=1",)),
    Row("goemotions", "minilm+bce", sets=("train.eval_batch_size=512",)),
    *(Row("eurlex57k", s, seeds=(13,), sets=("train.eval_batch_size=128",), tiny=("train.label_sample=64",))
      for s in ("plant-minilm", "lant-minilm")),
]
# a toy size for a test on the CPU: the same rows, configs and code paths
TINY = ("data.max_train=24", "data.max_eval=24", "data.max_valid=24", "train.epochs=1", "train.batch_size=8",
        "train.eval_batch_size=8", "tokenizer.max_length=32", "train.device=cpu", "train.num_threads=1")


def commands(row: Row, args: argparse.Namespace) -> list[list[str]]:
    """One run_baselines command per seed (they write the row's file in turn, under a lock)."""
    sets = [*row.sets]
    seeds = row.seeds
    if args.tiny:
        sets += [*TINY, *row.tiny]
        seeds = seeds[:1]
    if args.data_dir:
        sets.append(f"data.data_dir={args.data_dir}")
    out = []
    for seed in seeds:
        cmd = [sys.executable, str(ROOT / "benchmarks" / "run_baselines.py"), "--datasets", row.dataset,
               "--systems", row.system, "--seeds", str(seed), "--tag", "gpu", "--out", str(args.out),
               "--runs", str(args.runs)]
        for s in sets:
            cmd += ["--set", s]
        out.append(cmd)
    return out


def run_row(row: Row, args: argparse.Namespace) -> dict:
    t0 = time.perf_counter()
    cmds = commands(row, args)
    logs = Path(args.runs) / "logs"
    logs.mkdir(parents=True, exist_ok=True)

    def one(cmd: list[str]) -> int:
        seed = cmd[cmd.index("--seeds") + 1]
        with open(logs / f"{row.dataset}-{row.system}-s{seed}.log", "w") as fh:
            return subprocess.run(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT).returncode

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        codes = list(pool.map(one, cmds))
    failed = [c for c in codes if c != 0]
    return {"dataset": row.dataset, "system": row.system, "seeds": list(row.seeds[: len(cmds)]),
            "wall_seconds": time.perf_counter() - t0,
            "status": "done" if not failed else f"{len(failed)} of {len(codes)} seeds failed (logs: {logs})"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tiny", action="store_true", help="every row at a toy size on the CPU (a test)")
    p.add_argument("--dry-run", action="store_true", help="print the commands and stop")
    p.add_argument("--jobs", type=int, default=3, help="seeds of a row run side by side")
    p.add_argument("--budget-minutes", type=float, default=12.0, help="no row starts after this")
    p.add_argument("--only", nargs="+", help="rows to run, as dataset:system")
    p.add_argument("--data-dir", help="the datasets' folder (default: the config's, $LABELWISE_DATA or ../shared/data)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    p.add_argument("--runs", help="run directories (default: runs/gpu, or OUT/runs with --tiny)")
    args = p.parse_args(argv)
    args.runs = args.runs or str(Path(args.out) / "runs" if args.tiny else ROOT / "runs" / "gpu")
    rows = [r for r in ROWS if not args.only or f"{r.dataset}:{r.system}" in args.only]
    if args.dry_run:
        for row in rows:
            for cmd in commands(row, args):
                print(shlex.join(cmd))
        return 0
    if not args.tiny:
        import torch

        if not torch.cuda.is_available():
            raise SystemExit("no GPU here: these rows are sized for one (run --tiny for a CPU test of the script)")
    start = time.perf_counter()
    summary = []
    for row in rows:
        spent = (time.perf_counter() - start) / 60
        if spent > args.budget_minutes:
            summary.append({"dataset": row.dataset, "system": row.system,
                            "status": f"skipped: {spent:.1f} of {args.budget_minutes:g} minutes spent"})
        else:
            summary.append(run_row(row, args))
        print(json.dumps(summary[-1]), flush=True)
    dest = Path(args.out) / "gpu" / "summary.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps({"rows": summary, "wall_seconds": time.perf_counter() - start,
                                "tiny": args.tiny, "date": time.strftime("%Y-%m-%d")}, indent=2) + "\n")
    return 0 if all(r["status"] in ("done",) or r["status"].startswith("skipped") for r in summary) else 1


if __name__ == "__main__":
    sys.exit(main())
