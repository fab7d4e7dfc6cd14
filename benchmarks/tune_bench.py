"""A `labelwise tune` search as a benchmark row: the search on the validation split, then
the best config trained and measured once on the test split (the only time it is read).

    python benchmarks/tune_bench.py --dataset 20newsgroups --system linear \\
        --space benchmarks/spaces/linear.yaml --trials 24

Runs ``labelwise tune`` into ``runs/tune/<dataset>-<system>`` (run it again to continue the
study), trains ``best.yaml`` into ``runs/tune/<dataset>-<system>-best``, and records
``benchmarks/results/<dataset>__<system>-tuned.json``: the test metrics of the best config,
the best validation value, the trials (complete and pruned), the search's wall time and the
final training time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True, help="a config in configs/bench/datasets/")
    p.add_argument("--system", required=True, help="a config in configs/bench/systems/")
    p.add_argument("--space", required=True)
    p.add_argument("--trials", type=int, default=24)
    p.add_argument("--seed", type=int, default=13, help="train.seed of every trial")
    p.add_argument("--seeds", type=int, nargs="+", help="train.seed of each run of the best config "
                   "(default: --seed); a seed whose run finished earlier is not trained again")
    args = p.parse_args(argv)
    from labelwise.profiling import device_name

    configs = [f"configs/bench/datasets/{args.dataset}.yaml", f"configs/bench/systems/{args.system}.yaml"]
    cfg_args = [a for c in configs for a in ("-c", str(ROOT / c))]
    out = ROOT / "runs" / "tune" / f"{args.dataset}-{args.system}"
    lw = [sys.executable, "-m", "labelwise"]
    t0 = time.perf_counter()
    subprocess.run([*lw, "tune", *cfg_args, "--set", f"train.seed={args.seed}", "--space", str(ROOT / args.space),
                    "-o", str(out), "--trials", str(args.trials)], check=True, cwd=ROOT)
    tune_seconds = time.perf_counter() - t0  # this call's; trial_seconds_total covers every call
    summary = json.loads((out / "tune.json").read_text())
    seeds = args.seeds or [args.seed]
    runs = {seed: _train_best(lw, out, seed) for seed in seeds}
    from run_baselines import seed_stats

    mean, std = seed_stats([runs[s]["test"] for s in seeds])
    times = [runs[s]["train_seconds"] for s in seeds]
    record = {
        "dataset": args.dataset,
        "system": f"{args.system}-tuned",
        "metrics": mean,
        "metrics_std": std,
        "metrics_per_seed": [runs[s]["test"] for s in seeds],
        "seeds": seeds,
        "device": device_name(),
        "train_seconds": sum(times) / len(times),
        "train_seconds_per_seed": times,
        "test_docs_per_second": runs[seeds[0]].get("test_docs_per_second"),
        "tune": {"metric": summary["metric"], "best_valid": summary.get("best_value"),
                 "best_params": summary.get("best_params"), "trials": summary["trials"],
                 "trial_seconds_total": summary["trial_seconds_total"],
                 "wall_seconds_last_call": tune_seconds},
        "command": "python benchmarks/tune_bench.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "configs": configs,
        "date": time.strftime("%Y-%m-%d"),
    }
    dest = ROOT / "benchmarks" / "results" / f"{args.dataset}__{args.system}-tuned.json"
    dest.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps({k: record[k] for k in ("metrics", "tune", "train_seconds")}, indent=2))
    return 0


def _train_best(lw: list[str], out: Path, seed: int) -> dict:
    """Train ``best.yaml`` with one seed (seed 13 keeps the directory name of earlier versions).
    A finished run of the same ``best.yaml`` is read back; any other is trained again."""
    run = out.parent / (f"{out.name}-best" + ("" if seed == 13 else f"-s{seed}"))
    best = (out / "best.yaml").read_text()
    marker = run / "tuned-from.yaml"
    done = (run / "metrics.json").exists() and marker.exists() and marker.read_text() == best
    if not done:
        if run.exists():
            shutil.rmtree(run)
        subprocess.run([*lw, "train", "-c", str(out / "best.yaml"), "--set", f"train.seed={seed}", "-o", str(run)],
                       check=True, cwd=ROOT)
        marker.write_text(best)
    return json.loads((run / "metrics.json").read_text())


if __name__ == "__main__":
    sys.exit(main())
