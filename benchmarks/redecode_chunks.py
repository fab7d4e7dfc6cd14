"""A chunked run's test split decoded again with another chunk pooling, same weights.

PLANT's stateful decoder changes only how chunk logits become document logits, so "on
and off" can be measured on one trained model: this loads a run directory (e.g. the
``plant-stateful`` row's), sets ``model.chunk_pooling`` to ``--pooling`` (``max`` is the
decoder off) and measures the test split as the run did: label groups by the whole
training set's counts, the threshold the run tuned on its dev documents. The threshold
was tuned for the run's own pooling, so only the F1 scores can be off by that; the
ranking metrics (P@k, nDCG@k, PSP@k, R-Precision) need no threshold.

    python benchmarks/redecode_chunks.py runs/bench/eurlex57k-plant-stateful@c2frac0.05-s13 \
        --pooling max --row plant-stateful-maxdecode@c2frac0.05

The result is written as ``benchmarks/results/<dataset>__<row>.json`` (with
``--row``), a row of ``make_results_md.py``'s table.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from labelwise.estimator import TextClassifier
from labelwise.runner import load_run_data
from labelwise.training.dataset import ChunkPooling, chunk_pooling_of, set_chunk_pooling

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from run_baselines import device_name  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", type=Path)
    p.add_argument("--pooling", choices=["max", "stateful"], default="max")
    p.add_argument("--stateful-k", type=int, default=None, help="default: the run's model.stateful_k")
    p.add_argument("--stateful-gamma", type=float, default=None, help="default: the run's model.stateful_gamma")
    p.add_argument("--row", help="write benchmarks/results/<dataset>__<ROW>.json, e.g. plant-stateful-maxdecode@c2frac0.05")
    args = p.parse_args(argv)

    clf = TextClassifier.load(args.run_dir)
    cfg = clf.config_
    if cfg.tokenizer.long_documents != "chunk":
        p.error(f"{args.run_dir} truncates documents (tokenizer.long_documents: truncate): nothing to re-pool")
    model = clf.backend_.model
    was = chunk_pooling_of(model)
    k = args.stateful_k if args.stateful_k is not None else cfg.model.stateful_k
    gamma = args.stateful_gamma if args.stateful_gamma is not None else cfg.model.stateful_gamma
    set_chunk_pooling(model, ChunkPooling(args.pooling, k, gamma))
    data = load_run_data(cfg)
    if not data.test:
        p.error(f"dataset '{data.name}' has no test split")
    t0 = time.perf_counter()
    metrics = clf.evaluate_examples(data.test, group_counts=data.full_train_counts)
    seconds = time.perf_counter() - t0
    print(f"{args.run_dir}: trained with {was.mode} pooling, decoded with {args.pooling} "
          f"(k={k}, gamma={gamma}) on {len(data.test)} test documents in {seconds:.0f} s")
    print(json.dumps({m: round(v, 4) for m, v in metrics.items()}))
    if args.row:
        run = json.loads((args.run_dir / "metrics.json").read_text())
        system, _, variant = args.row.partition("@")
        record = {
            "dataset": data.name,
            "system": f"labelwise:{system}",
            "variant": variant or None,
            "metrics": metrics,
            "metrics_std": None,
            "metrics_per_seed": [metrics],
            "seeds": [cfg.train.seed],
            "device": device_name(),
            "train_seconds": run["train_seconds"],
            "train_seconds_per_seed": [run["train_seconds"]],
            "test_docs_per_second": len(data.test) / seconds,
            "trained_with": was.mode,
            "decoded_with": {"chunk_pooling": args.pooling, "stateful_k": k, "stateful_gamma": gamma},
            "run_dir": str(args.run_dir),
            "command": f"python benchmarks/redecode_chunks.py {args.run_dir} --pooling {args.pooling} --row {args.row}",
            "date": datetime.date.today().isoformat(),
            "torch_threads": torch.get_num_threads(),
        }
        out = ROOT / "benchmarks" / "results" / f"{data.name}__{args.row}.json"
        out.write_text(json.dumps(record, indent=2, default=lambda x: float(x) if np.isscalar(x) else str(x)) + "\n")
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
