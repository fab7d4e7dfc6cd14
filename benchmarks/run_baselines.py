"""Baselines on GoEmotions, SST-2 and 20 Newsgroups: one JSON result per (dataset, system).

Each run composes ``configs/bench/datasets/<dataset>.yaml`` with
``configs/bench/systems/<system>.yaml``, trains on the training split (choosing the best
epoch on the validation split, or on 10% of train where there is none), and measures the
test split once. Results go to ``benchmarks/results/<dataset>__<system>.json``; then
``benchmarks/make_results_md.py`` rebuilds the table in ``benchmarks/RESULTS.md``.

    python benchmarks/run_baselines.py --datasets sst2 --systems cnn --seeds 13 14 15
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from labelwise.config import load_config
from labelwise.runner import train_run

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ["goemotions", "sst2", "20newsgroups", "imdb"]
SYSTEMS = ["linear", "cnn", "bilstm", "transformer", "pretrained-frozen", "transformer-small"]


def device_name() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    cpu = platform.processor() or "cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"cpu: {torch.get_num_threads()} threads, {cpu}"


def _earlier_runs(path: Path, extra: list[str]) -> dict[int, dict]:
    """Seeds already recorded for this row with the same overrides, keyed by seed."""
    if not path.is_file():
        return {}
    old = json.loads(path.read_text())
    if old.get("overrides", []) != extra:
        return {}
    return {s: {"test": m, "train_seconds": t, "test_docs_per_second": d}
            for s, m, t, d in zip(old["seeds"], old["metrics_per_seed"], old["train_seconds_per_seed"],
                                  old.get("test_docs_per_second_per_seed", [old["test_docs_per_second"]] * len(old["seeds"])),
                                  strict=True)}


def run_one(dataset: str, system: str, seeds: list[int], out_dir: Path, extra: list[str]) -> dict:
    """Train and test one row for each seed; seeds recorded earlier are kept, so a row
    can grow one seed at a time."""
    files = [ROOT / f"configs/bench/datasets/{dataset}.yaml", ROOT / f"configs/bench/systems/{system}.yaml"]
    out_path = out_dir / f"{dataset}__{system}.json"
    runs = _earlier_runs(out_path, extra)
    for seed in seeds:
        cfg = load_config(files, [f"train.seed={seed}", "train.progress=false", *extra])
        run_dir = ROOT / "runs" / "bench" / f"{dataset}-{system}-s{seed}"
        _, metrics, _ = train_run(cfg, run_dir, overwrite=True)
        runs[seed] = metrics
        print(f"{dataset} {system} seed {seed}: {json.dumps({k: round(v, 4) for k, v in metrics['test'].items()})}"
              f" train {metrics['train_seconds']:.0f}s", flush=True)
    seeds = sorted(runs)
    per_seed = [runs[s]["test"] for s in seeds]
    times = [runs[s]["train_seconds"] for s in seeds]
    infer = [runs[s]["test_docs_per_second"] for s in seeds]
    names = list(per_seed[0])
    mean = {k: float(np.mean([m[k] for m in per_seed])) for k in names}
    std = {k: float(np.std([m[k] for m in per_seed])) for k in names} if len(seeds) > 1 else None
    result = {
        "dataset": dataset,
        "system": "linear-tfidf" if system == "linear" else f"labelwise:{system}",
        "metrics": mean,
        "metrics_std": std,
        "metrics_per_seed": per_seed,
        "seeds": seeds,
        "device": device_name(),
        "train_seconds": float(np.mean(times)),
        "train_seconds_per_seed": times,
        "test_docs_per_second": float(np.mean(infer)),
        "test_docs_per_second_per_seed": infer,
        "overrides": extra,
        "command": "python benchmarks/run_baselines.py --datasets " + dataset + " --systems " + system
                   + " --seeds " + " ".join(map(str, seeds)) + "".join(f" --set {shlex.quote(e)}" for e in extra),
        "configs": [str(f.relative_to(ROOT)) for f in files],
        "date": time.strftime("%Y-%m-%d"),
        "torch_threads": torch.get_num_threads(),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(result, indent=2) + "\n")
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=DATASETS, choices=DATASETS)
    p.add_argument("--systems", nargs="+", default=SYSTEMS, choices=SYSTEMS)
    p.add_argument("--seeds", nargs="+", type=int, default=[13, 14, 15])
    p.add_argument("--set", dest="extra", action="append", default=[], help="extra config override")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = p.parse_args(argv)
    for dataset in args.datasets:
        for system in args.systems:
            run_one(dataset, system, args.seeds, Path(args.out), args.extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
