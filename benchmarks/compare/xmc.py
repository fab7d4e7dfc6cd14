"""Extreme multi-label side by side: one-vs-rest, label trees and the tools users pick.

Each system runs as its own process in its own virtual environment (``compare_tools.py``'s
runners, with ``--topk 10``): labelwise's one-vs-rest L2-loss SVM (``labelwise:linear-l2svm``)
and label tree (``labelwise:linear-tree``), LibMultiLabel's tree model and PECOS XR-Linear.
Each prints its 10 best labels per test document; P@k, nDCG@k and PSP@k are computed here,
from those rankings, with labelwise's metric functions and the training split's label
frequencies (the label space is the training split's: a test label never seen in training
counts as a miss for every system alike). Results go to ``benchmarks/results/xmc/``.

    python benchmarks/compare/xmc.py --datasets eurlex57k
    python benchmarks/compare/xmc.py --datasets eurlex57k --systems labelwise-tree pecos
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "src"))
from common import data_dir, read_split  # noqa: E402
from compare_tools import SYSTEMS, cpu_name, harness_args, run_system  # noqa: E402

from labelwise.metrics.topk import inverse_propensity, ndcg_at_k, precision_at_k, psp_at_k  # noqa: E402

XMC_SYSTEMS = ["labelwise-ovr", "labelwise-tree", "labelwise-tree-man", "labelwise-tree-ens3", "labelwise-tree-flat",
               "lml-tree", "pecos"]
OUT = ROOT / "benchmarks/results/xmc"
CACHE = ROOT / "runs" / "xmc"


def ranking_metrics(gold: list[list[str]], ranked: list[list[str]], train: list[list[str]]) -> dict[str, float]:
    """P@1/3/5, nDCG@3/5 and PSP@1/3/5 of the rankings, over the training split's labels."""
    names = sorted({lab for row in train for lab in row})
    index = {n: i for i, n in enumerate(names)}
    n, L = len(gold), len(names)
    targets = np.zeros((n, L), dtype=np.int8)
    scores = np.full((n, L), -np.inf, dtype=np.float32)
    for i, (g, r) in enumerate(zip(gold, ranked, strict=True)):
        targets[i, [index[x] for x in g if x in index]] = 1
        known = [index[x] for x in r if x in index]
        scores[i, known] = np.arange(len(known), 0, -1, dtype=np.float32)  # the first scores highest
    counts = np.zeros(L)
    for row in train:
        for lab in row:
            counts[index[lab]] += 1
    inv = inverse_propensity(counts, len(train))
    out = {}
    for k in (1, 3, 5):
        out[f"p@{k}"] = float(precision_at_k(scores, targets, k).mean())
        psp, best = psp_at_k(scores, targets, k, inv)
        out[f"psp@{k}"] = float(psp.sum() / best.sum())
    for k in (3, 5):
        out[f"ndcg@{k}"] = float(ndcg_at_k(scores, targets, k).mean())
    return out


def _cache_key(system: str, extra: list[str]) -> str:
    """What a system's output depends on besides the data: its runner's flags and, for
    labelwise, the text of its system config."""
    flags = [*SYSTEMS[system][2], *extra]
    parts = [shlex.join(flags)]
    if "--system" in flags:
        config = ROOT / "configs/bench/systems" / f"{flags[flags.index('--system') + 1]}.yaml"
        parts.append(config.read_text() if config.is_file() else "")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    args = harness_args(__doc__ or "", ["eurlex57k"], XMC_SYSTEMS, XMC_SYSTEMS, OUT, argv,
                        extra=[("--threads", {"type": int, "help": "cores each system may use (worker "
                                "processes, OpenMP threads); default all"})])
    more: dict[str, list[str]] = {s: [] for s in XMC_SYSTEMS}
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
        for s in (s for s in XMC_SYSTEMS if s.startswith("labelwise-")):
            more[s] = ["--set", f"model.linear.n_jobs={args.threads}"]
        more["pecos"] = ["--threads", str(args.threads)]
    out_dir = Path(args.out)
    directory = data_dir(args.data_dir)
    for dataset in args.datasets:
        _, y_train = read_split(directory, dataset, "train", args.limit)
        _, y_test = read_split(directory, dataset, "test", args.limit)
        for system in args.systems:
            # a finished system's output is kept (runs/xmc/), so an interrupted run resumes; it
            # is reused only for the same flags and system config
            cache = CACHE / f"{dataset}__{system}{'' if args.limit is None else f'@limit{args.limit}'}.json"
            key = _cache_key(system, more[system])
            cached = json.loads(cache.read_text()) if cache.is_file() else {}
            if cached.get("cache_key") == key:
                out = cached
            else:
                out = run_system(system, dataset, args, ["--work", str(CACHE / "work"), *more[system]])
                cache.parent.mkdir(parents=True, exist_ok=True)
                cache.write_text(json.dumps({**out, "cache_key": key}) + "\n")
            record = {
                "dataset": dataset, "system": SYSTEMS[system][3],
                "metrics": ranking_metrics(y_test, out["predictions"], y_train), "seeds": [args.seed],
                "device": f"cpu: {cpu_name()}, 2 cores", "train_seconds": out["train_seconds"],
                "infer_docs_per_s": out["infer_docs_per_s"], "peak_rss_mib": out.get("peak_rss_mib"),
                "num_train": out.get("num_train"), "num_test": len(y_test), "settings": out.get("settings", {}),
                "command": "python benchmarks/compare/xmc.py " + shlex.join(
                    ["--datasets", dataset, "--systems", system] + (["--limit", str(args.limit)] if args.limit else [])
                    + (["--threads", str(args.threads)] if args.threads else [])),
                "threads": args.threads,
            }
            (out_dir / f"{dataset}__{system}.json").write_text(json.dumps(record, indent=1) + "\n")
            m = record["metrics"]
            print(f"{dataset} {system}: P@1 {100 * m['p@1']:.2f} P@5 {100 * m['p@5']:.2f} nDCG@5 "
                  f"{100 * m['ndcg@5']:.2f} PSP@5 {100 * m['psp@5']:.2f}, fit {record['train_seconds']:.0f} s, "
                  f"{record['infer_docs_per_s']:.0f} docs/s, peak {record['peak_rss_mib'] or 0:.0f} MiB", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
