"""Parameters, FLOPs per document and CPU documents/s of each benchmark system, measured
apart from training (on an otherwise idle machine) with ``labelwise.profiling``.

Each system is built as ``configs/bench/datasets/<dataset>.yaml`` + ``systems/<system>.yaml``
describe it (untrained: cost does not depend on the weights) and timed on full-length
documents of the dataset's ``tokenizer.max_length``. Rows go to
``benchmarks/results/profile/<dataset>__<system>.json``; ``make_results_md.py`` puts them
beside the accuracy of the same system.

    python benchmarks/profile_systems.py --dataset imdb --systems cnn multilevel
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from labelwise.components import load_config
from labelwise.profiling import (
    build_from_config,
    count_parameters,
    device_name,
    flops_per_document,
    profile_config,
)

ROOT = Path(__file__).resolve().parents[1]
SYSTEMS = sorted(p.stem for p in (ROOT / "configs/bench/systems").glob("*.yaml"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="imdb")
    p.add_argument("--systems", nargs="+", default=[s for s in SYSTEMS if s != "linear"])
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--labels", type=int, default=2,
                   help="width of the output layer (EURLEX57K: 4271; it dominates a label-wise head)")
    p.add_argument("--no-timing", action="store_true",
                   help="parameters and FLOPs only (timings need an otherwise idle machine)")
    args = p.parse_args(argv)
    out_dir = ROOT / "benchmarks" / "results" / "profile"
    out_dir.mkdir(parents=True, exist_ok=True)
    for system in args.systems:
        files = [ROOT / f"configs/bench/datasets/{args.dataset}.yaml",
                 ROOT / f"configs/bench/systems/{system}.yaml"]
        cfg = load_config(files, [])
        if args.no_timing:  # counts only: exact on any machine, busy or not
            model, vocab = build_from_config(cfg, args.labels)
            length = cfg.tokenizer.max_length
            row = {"length": length, "params": count_parameters(model),
                   "flops_per_doc": flops_per_document(model, length, vocab),
                   "infer_docs_per_s": None, "train_docs_per_s": None}
        else:
            row = profile_config(cfg, [cfg.tokenizer.max_length], args.batch_size, args.labels, True,
                                 args.seconds)[0]
        record = {
            "dataset": args.dataset,
            "system": f"labelwise:{system}",
            **row,
            "num_labels": args.labels,
            "label_sample": cfg.train.label_sample,
            "batch_size": args.batch_size,
            "device": device_name(),
            "torch_threads": torch.get_num_threads(),
            "command": f"python benchmarks/profile_systems.py --dataset {args.dataset} --systems {system}"
                       + (f" --labels {args.labels}" if args.labels != 2 else "")
                       + (f" --batch-size {args.batch_size}" if args.batch_size != 32 else "")
                       + (" --no-timing" if args.no_timing else ""),
            "date": time.strftime("%Y-%m-%d"),
        }
        (out_dir / f"{args.dataset}__{system}.json").write_text(json.dumps(record, indent=2) + "\n")
        speed = "" if args.no_timing else (f", infer {row['infer_docs_per_s']:.0f} docs/s, "
                                           f"train {row['train_docs_per_s']:.0f} docs/s")
        print(f"{system}: {row['params'] / 1e6:.2f}M params, {row['flops_per_doc'] / 1e9:.3f} GFLOPs/doc{speed}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
