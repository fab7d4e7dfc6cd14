"""Abstaining on out-of-scope texts: 20 Newsgroups with some groups held out of training.

    python benchmarks/abstain.py --dataset 20newsgroups --held-out 6 --seed 13

``--held-out`` groups (drawn with ``--seed``) are out of scope: every test document of them
is labelled ``oos``. Half of them (A) lend their training documents, labelled ``oos``, to the
system that learns an out-of-scope class; the other half (B) are never seen in training by
any system. The other groups are in scope. Each system is the fast preset's linear model
(TF-IDF L2-loss SVMs, C chosen on validation), trained on the in-scope training documents:

- ``plain``: always the best class (``decode.abstain: none``);
- ``coverage-0.95`` / ``coverage-0.9``: no label below the confidence that answers 95 % /
  90 % of the validation texts (``decode.abstain: coverage``);
- ``oos-class``: group A's documents as an ``oos`` class, and texts whose best in-scope
  score is below a threshold tuned on validation called ``oos``
  (``decode.abstain: out_of_scope``).

Reported on the whole test split: accuracy over the in-scope documents, recall of the
out-of-scope ones (no answer, or ``oos``), the share answered. Writes
``benchmarks/results/abstain/<dataset>.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SYSTEMS = {
    "plain": [],
    "coverage-0.95": ["decode.abstain=coverage", "decode.coverage=0.95"],
    "coverage-0.9": ["decode.abstain=coverage", "decode.coverage=0.9"],
    "oos-class": ["decode.abstain=out_of_scope", "decode.out_of_scope_label=oos"],
}
OOS = "oos"


def write_jsonl(path: Path, rows: list[tuple[str, list[str]]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"text": t, "labels": y}) + "\n" for t, y in rows), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="20newsgroups")
    p.add_argument("--held-out", type=int, default=6, help="groups out of scope (half of them lend an oos class)")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=list(SYSTEMS))
    args = p.parse_args(argv)
    import torch

    from labelwise.components import load_config
    from labelwise.data.catalog import load_splits, resolve_data_dir
    from labelwise.data.formats import read_examples
    from labelwise.profiling import device_name
    from labelwise.runner import train_run

    splits = load_splits(args.dataset, resolve_data_dir(None))
    train, test = read_examples(splits.train), read_examples(splits.test)
    groups = sorted({lab for e in train for lab in e.labels})
    rng = np.random.default_rng(args.seed)
    held = sorted(rng.choice(groups, size=args.held_out, replace=False).tolist())
    lends, unseen = held[: len(held) // 2], held[len(held) // 2:]
    out_of_scope = set(held)
    data = ROOT / "runs" / "abstain-data"
    in_scope_train = [(e.text, list(e.labels)) for e in train if not set(e.labels) & out_of_scope]
    lent = [(e.text, [OOS]) for e in train if set(e.labels) & set(lends)]
    test_rows = [(e.text, [OOS] if set(e.labels) & out_of_scope else list(e.labels)) for e in test]
    write_jsonl(data / "in-scope" / "train.jsonl", in_scope_train)
    write_jsonl(data / "in-scope" / "test.jsonl", test_rows)
    write_jsonl(data / "with-oos" / "train.jsonl", in_scope_train + lent)
    write_jsonl(data / "with-oos" / "test.jsonl", test_rows)
    rows = []
    for system in args.systems:
        folder = data / ("with-oos" if system == "oos-class" else "in-scope")
        cfg = load_config(None, [f"data.train={folder / 'train.jsonl'}", f"data.test={folder / 'test.jsonl'}",
                                 "data.unseen_labels=ignore", "task=multiclass", "preset=fast",
                                 f"train.seed={args.seed}", *SYSTEMS[system]])
        t0 = time.perf_counter()
        _, metrics, _ = train_run(cfg, ROOT / "runs" / "abstain" / f"{args.dataset}-{system}-s{args.seed}",
                                  overwrite=True)
        keep = ("accuracy", "in_scope_accuracy", "out_of_scope_recall", "answered")
        row = {"system": f"labelwise:preset-fast+{system}", "overrides": SYSTEMS[system],
               "metrics": {k: metrics["test"][k] for k in keep if k in metrics["test"]},
               "train_seconds": metrics["train_seconds"], "seconds": time.perf_counter() - t0}
        rows.append(row)
        print(json.dumps(row), flush=True)
    out = ROOT / "benchmarks" / "results" / "abstain" / f"{args.dataset}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "dataset": args.dataset, "held_out": held, "lend_an_oos_class": lends, "never_seen": unseen,
        "train_documents": len(in_scope_train), "oos_class_documents": len(lent),
        "test_documents": len(test_rows), "test_out_of_scope": sum(1 for _, y in test_rows if y == [OOS]),
        "seeds": [args.seed], "device": device_name(), "torch_threads": torch.get_num_threads(),
        "command": "python benchmarks/abstain.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d"), "rows": rows,
    }
    out.write_text(json.dumps(record, indent=2) + "\n")
    from make_results_md import abstain_table  # benchmarks/: the one table format

    print(abstain_table(args.dataset))
    return 0


if __name__ == "__main__":
    sys.exit(main())
