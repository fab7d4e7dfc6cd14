"""The label tree's training documents and path score, chosen on a validation split.

For each ``--train-beams`` value (``none``: each cluster fitted on the documents with a label
under it; b: also on those the fitted clusters above send to it with a beam b wide, the
``tree.train_beam`` option) the tree of ``configs/bench/systems/linear-tree.yaml`` is fitted
on the training split and scored on the validation split with each ``--powers`` value of
``tree.path_power``. Prints and writes P@1/3/5 and the fit time (features included) of each;
never reads a test split. One process; run it with one thread (``OMP_NUM_THREADS=1``).

With ``--trees N`` each fit is an ensemble of N trees (``tree.trees``), scored with its
first 1, 2, ..., N trees; the fit time of k trees is the time at which the k-th tree's
last cluster was fitted (features included).

    python benchmarks/tree_negatives.py --dataset eurlex57k --train-beams none 5 10 --powers 3 4 5 6
    python benchmarks/tree_negatives.py --dataset eurlex57k --train-beams none --powers 3 --trees 3
    python benchmarks/tree_negatives.py --dataset eurlex57k --train-beams none --powers 3 --tree branching=64
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks/compare"))
from compare_tools import cpu_name  # noqa: E402

from labelwise.components import load_config  # noqa: E402
from labelwise.data.labels import LabelSpace  # noqa: E402
from labelwise.linear import TfidfLinear  # noqa: E402
from labelwise.metrics.topk import precision_at_k  # noqa: E402
from labelwise.runner import load_run_data  # noqa: E402

SYSTEM = ROOT / "configs/bench/systems/linear-tree.yaml"
OUT = ROOT / "benchmarks/results/trees"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="eurlex57k", help="its config in configs/bench/datasets/")
    p.add_argument("--train-beams", nargs="+", default=["none", "5"])
    p.add_argument("--powers", nargs="+", type=float, default=[3.0, 4.0])
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--trees", type=int, default=1, help="trees per fit, scored with the first 1..N")
    p.add_argument("--tree", nargs="*", default=[], metavar="KEY=VALUE",
                   help="other tree settings for every fit (e.g. branching=64 leaf_size=50)")
    args = p.parse_args(argv)
    # all of the validation split (the dataset config may keep a sample of it for choosing epochs)
    cfg = load_config([ROOT / f"configs/bench/datasets/{args.dataset}.yaml", SYSTEM],
                      [f"train.seed={args.seed}", "data.max_valid=null"])
    data = load_run_data(cfg, with_test=False)
    space = LabelSpace.fit(data.train, "extreme", unseen="ignore")

    def targets(examples) -> sp.csr_matrix:
        """(N, L) 0/1, sparse (dense would be 0.8 GB at EURLEX57K's size)."""
        ids = [space.encode_indices(ex.labels) for ex in examples]
        cols = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
        indptr = np.concatenate([[0], np.cumsum([len(i) for i in ids])])
        return sp.csr_matrix((np.ones(len(cols), dtype=np.int8), cols, indptr), shape=(len(examples), len(space)))

    Y, Y_valid_dense = targets(data.train), targets(data.valid).toarray()
    texts, valid_texts = [ex.text for ex in data.train], [ex.text for ex in data.valid]
    base = TfidfLinear.Config(**{**cfg.model.linear, "n_jobs": 1, "seed": args.seed})
    assert base.tree is not None, f"{SYSTEM} has no tree"
    extra = {k: json.loads(v) for k, v in (a.split("=", 1) for a in args.tree)}
    rows = []
    for beam in args.train_beams:
        train_beam = None if beam == "none" else int(beam)
        tree_cfg = type(base.tree).model_validate({**base.tree.model_dump(), **extra,
                                                   "train_beam": train_beam, "trees": args.trees})
        model_cfg = base.model_copy(update={"tree": tree_cfg})
        fitted, tree_done = 0, []  # labels fitted so far; when each tree's last one was

        def on_labels(k: int) -> None:
            nonlocal fitted
            fitted += k
            if fitted == (len(tree_done) + 1) * Y.shape[1]:
                tree_done.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        clf = TfidfLinear(model_cfg).fit(texts, Y, task="extreme", on_labels=on_labels)
        assert len(tree_done) == args.trees
        X_valid = clf.vectorizer_.transform(valid_texts)
        trees, nodes = clf.trees_, clf.nodes_
        for n_trees in range(1, args.trees + 1):
            clf.trees_, clf.nodes_ = trees[:n_trees], nodes[:n_trees]
            for power in args.powers:
                clf.config = model_cfg.model_copy(update={"tree": model_cfg.tree.model_copy(update={"path_power": power})})
                scores = clf._tree_scores(X_valid)
                metrics = {f"p@{k}": float(precision_at_k(scores, Y_valid_dense, k).mean()) for k in (1, 3, 5)}
                row = {**extra, "train_beam": train_beam, "path_power": power, "trees": n_trees, "metrics": metrics,
                       "fit_seconds": tree_done[n_trees - 1]}
                rows.append(row)
                print(json.dumps({**row, "metrics": {k: round(100 * v, 2) for k, v in metrics.items()},
                                  "fit_seconds": round(row["fit_seconds"], 1)}), flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    trees = f"-trees-{args.trees}" if args.trees > 1 else ""
    trees += "".join(f"-{a.replace('=', '-')}" for a in args.tree)
    out = OUT / (f"{args.dataset}-train-beam-{'-'.join(args.train_beams)}-power-"
                 f"{'-'.join(f'{x:g}' for x in args.powers)}{trees}-valid.json")
    out.write_text(json.dumps({
        "dataset": args.dataset, "split": "valid", "valid_documents": len(data.valid), "system": "labelwise:linear-tree", "config": str(SYSTEM.relative_to(ROOT)),
        "seeds": [args.seed], "device": f"cpu: {cpu_name()}, one thread",
        "command": "python benchmarks/tree_negatives.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "rows": rows}, indent=1) + "\n")
    print("wrote", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
