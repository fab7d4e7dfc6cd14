"""The validation split's P@1/3/5 of the models the extreme side by side trained.

``benchmarks/compare/xmc.py`` keeps each labelwise system's run directory under
``runs/xmc/work/``; this scores all of the dataset's validation documents with them, so that
a gain chosen on validation can be checked on the very model measured on the test split
(the side by side fits with the model's own seed, not the validation studies'). One thread
is enough.

With ``--paired-test BASE OTHER...`` (systems of the side by side) it instead reads their
cached test rankings (``runs/xmc/``) and the test labels, and prints each OTHER's paired P@1
difference to BASE with its standard error: how large a difference the test split can show.
Nothing here chooses anything.

    python benchmarks/xmc_valid.py --dataset eurlex57k --runs labelwise-eurlex57k-linear-tree-s13 labelwise-eurlex57k-linear-tree-man-s13
    python benchmarks/xmc_valid.py --dataset eurlex57k --paired-test labelwise-tree labelwise-tree-man
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks/compare"))
from common import data_dir, read_split  # noqa: E402

from labelwise.components import load_config  # noqa: E402
from labelwise.linear import TfidfLinear  # noqa: E402
from labelwise.metrics.topk import precision_at_k  # noqa: E402
from labelwise.runner import load_run_data  # noqa: E402

CACHE = ROOT / "runs/xmc"
WORK = CACHE / "work"


def paired_test(dataset: str, base: str, others: list[str]) -> None:
    """Each of ``others``' P@1 minus ``base``'s on the test split, document by document."""
    _, gold = read_split(data_dir(None), dataset, "test", None)

    def hits(system: str) -> np.ndarray:
        ranked = json.loads((CACHE / f"{dataset}__{system}.json").read_text())["predictions"]
        return np.array([bool(r) and r[0] in g for r, g in zip(ranked, gold, strict=True)], dtype=float)

    ref = hits(base)
    for system in others:
        d = hits(system) - ref
        print(json.dumps({"system": system, "base": base, "p@1_difference": round(100 * d.mean(), 2),
                          "standard_error": round(100 * d.std(ddof=1) / math.sqrt(len(d)), 2),
                          "documents_that_differ": int((d != 0).sum())}), flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="eurlex57k", help="its config in configs/bench/datasets/")
    p.add_argument("--runs", nargs="+", default=[], help="run directories under runs/xmc/work/")
    p.add_argument("--paired-test", nargs="+", metavar="SYSTEM", help="BASE OTHER...: paired test P@1")
    args = p.parse_args(argv)
    if args.paired_test:
        paired_test(args.dataset, args.paired_test[0], args.paired_test[1:])
        return 0
    cfg = load_config([ROOT / f"configs/bench/datasets/{args.dataset}.yaml"], ["data.max_valid=null"])
    valid = load_run_data(cfg, with_test=False).valid
    texts = [ex.text for ex in valid]
    for name in args.runs:
        run = WORK / name
        names = json.loads((run / "labels.json").read_text())["classes"]
        index = {n: i for i, n in enumerate(names)}
        Y = np.zeros((len(valid), len(names)), dtype=np.int8)
        for i, ex in enumerate(valid):
            Y[i, [index[lab] for lab in ex.labels if lab in index]] = 1
        t0 = time.perf_counter()
        scores = TfidfLinear.load(run).decision_function(texts)
        metrics = {f"p@{k}": round(100 * float(precision_at_k(scores, Y, k).mean()), 2) for k in (1, 3, 5)}
        print(json.dumps({"run": name, "valid_documents": len(valid), **metrics,
                          "score_seconds": round(time.perf_counter() - t0, 1)}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
