"""Cost against the number of labels: one-vs-rest against the label tree, on generated data.

Documents are sparse feature vectors (a fixed number of them at every label count); labels
follow a Zipf law, and every label has at least one training document, so that the label
count is what grows. Each label has a few signature features; a document holds the
signatures of its labels plus noise features, so the labels are learnable.

Each (model, label count) runs in a fresh process, so the peak resident memory it reports is
its own: fit time, peak memory and prediction time per document (all test documents, after
a warm-up). A model whose estimated weights would not fit in memory is not started; the
estimate is written instead.

    python benchmarks/label_scaling.py                              # 10^4, 10^5, 10^6 labels
    python benchmarks/label_scaling.py --labels 10000 --models tree

Writes ``benchmarks/results/label_scaling.json`` (one record per model and label count, kept
between runs: a finished cell is not run again) and ``benchmarks/results/label_scaling.png``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks/results/label_scaling.json"
MEMORY_GIB = 24.0
TREE = {"branching": 16, "leaf_size": 100, "beam": 10, "prune": 0.1}


def generate(num_labels: int, num_docs: int, num_features: int, seed: int) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """(X (N, V) L2-normalised, Y (N, L) 0/1): Zipf label frequencies, each label at least once."""
    rng = np.random.default_rng(seed)
    signature = rng.integers(0, num_features, size=(num_labels, 4))
    # Zipf counts for the labels beyond one document each: 4 labels per document on average
    weights = 1.0 / np.arange(1, num_labels + 1) ** 1.1
    extra = max(0, 4 * num_docs - num_labels)
    counts = 1 + rng.multinomial(extra, weights / weights.sum())
    occurrences = np.repeat(np.arange(num_labels), counts)
    docs = rng.integers(0, num_docs, size=len(occurrences))
    Y = sp.csr_matrix((np.ones(len(docs), dtype=np.float32), (docs, occurrences)), shape=(num_docs, num_labels))
    Y.sum_duplicates()
    Y.data[:] = 1.0
    # features: each label's signature (x2) and 20 noise features per document
    lab_rows = np.repeat(np.arange(num_docs), np.diff(Y.indptr))
    rows = np.concatenate([np.repeat(lab_rows, 4), np.repeat(np.arange(num_docs), 20)])
    cols = np.concatenate([signature[Y.indices].ravel(), rng.integers(0, num_features, size=20 * num_docs)])
    vals = np.concatenate([np.full(4 * len(lab_rows), 2.0), rng.random(20 * num_docs)]).astype(np.float32)
    X = sp.csr_matrix((vals, (rows, cols)), shape=(num_docs, num_features))
    X.sum_duplicates()
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    return sp.csr_matrix(sp.diags(1.0 / np.maximum(norms, 1e-12)) @ X, dtype=np.float32), Y


def ovr_weight_gib(X: sp.csr_matrix, Y: sp.csr_matrix) -> float:
    """A lower bound on one-vs-rest's weights: each label's SVM is non-zero at least on the
    features of its positive documents (12 bytes a non-zero in CSR)."""
    used = (sp.csr_matrix(Y.T) @ sp.csr_matrix((X != 0).astype(np.float32))).nnz
    return 12.0 * used / 2**30


def cell(model: str, num_labels: int, args: argparse.Namespace) -> dict[str, Any]:
    """Fit and time one model at one label count (in this process)."""
    sys.path.insert(0, str(ROOT / "src"))
    from functools import partial

    from labelwise import linear_tree
    from labelwise.linear import TfidfLinear, _fit_binary, _fit_per_label

    X, Y = generate(num_labels, args.docs + args.test_docs, args.features, args.seed)
    Xtr, Ytr, Xte = X[: args.docs], Y[: args.docs], X[args.docs :]
    cfg = TfidfLinear.Config(C=1.0, n_jobs=args.jobs, tree=TREE if model == "tree" else None)
    t0 = time.perf_counter()
    if model == "tree":
        tree = linear_tree.build_tree(linear_tree.label_representations(Xtr, Ytr), TREE["branching"],
                                      TREE["leaf_size"], args.seed)
        nodes = linear_tree.fit_nodes(Xtr, sp.csc_matrix(Ytr), tree, partial(_fit_binary, cfg=cfg), TREE["prune"],
                                      args.jobs)
        fit = time.perf_counter() - t0
        linear_tree.beam_search(nodes, tree, Xte[:64], TREE["beam"], "squared_hinge")  # warm-up
        t1 = time.perf_counter()
        reached = linear_tree.beam_search(nodes, tree, Xte, TREE["beam"], "squared_hinge")
        predict = time.perf_counter() - t1
        top1 = np.asarray([reached.indices[reached.indptr[i] + np.argmax(reached.data[reached.indptr[i]:reached.indptr[i + 1]])]
                           if reached.indptr[i + 1] > reached.indptr[i] else -1 for i in range(reached.shape[0])])
        size = (nodes.values.nbytes + nodes.keys.nbytes) / 2**30
    else:
        coef, b = _fit_per_label(Xtr, sp.csc_matrix(Ytr), cfg)
        fit = time.perf_counter() - t0
        coef = sp.csr_matrix(coef)
        t1 = time.perf_counter()
        top1 = []
        for s in range(0, Xte.shape[0], 256):  # in chunks: an (n, L) score block per chunk
            scores = np.asarray((Xte[s : s + 256] @ coef.T).toarray()) + b
            top1.extend(scores.argmax(1).tolist())
        predict = time.perf_counter() - t1
        top1 = np.asarray(top1)
        size = (coef.data.nbytes + coef.indices.nbytes + coef.indptr.nbytes) / 2**30
    gold = Y[args.docs :]
    hits = [gold[i, j] != 0 if j >= 0 else False for i, j in enumerate(top1)]
    return {"model": model, "num_labels": num_labels, "num_train": args.docs, "num_test": args.test_docs,
            "num_features": args.features, "fit_seconds": fit, "predict_ms_per_doc": 1000 * predict / args.test_docs,
            "p@1": float(np.mean(hits)), "weights_gib": size,
            "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, "jobs": args.jobs}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--labels", nargs="+", type=int, default=[10_000, 100_000, 1_000_000])
    p.add_argument("--models", nargs="+", default=["tree", "ovr"], choices=["tree", "ovr"])
    p.add_argument("--docs", type=int, default=20_000, help="training documents at every label count")
    p.add_argument("--test-docs", type=int, default=2_000)
    p.add_argument("--features", type=int, default=50_000)
    p.add_argument("--jobs", type=int, default=1, help="worker processes of the fits")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cell", nargs=2, metavar=("MODEL", "LABELS"), help=argparse.SUPPRESS)
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args(argv)
    if args.cell:
        print(json.dumps(cell(args.cell[0], int(args.cell[1]), args)))
        return 0
    out = Path(args.out)
    records = json.loads(out.read_text()) if out.is_file() else []
    done = {(r["model"], r["num_labels"]) for r in records}
    for labels in args.labels:
        for model in args.models:
            if (model, labels) in done:
                continue
            if model == "ovr":
                X, Y = generate(labels, args.docs, args.features, args.seed)
                need = ovr_weight_gib(X, Y)
                if need > 0.8 * MEMORY_GIB:
                    records.append({"model": model, "num_labels": labels, "skipped": True, "weights_gib_at_least": need,
                                    "why": f"its weights alone would need at least {need:.1f} GiB of {MEMORY_GIB:.0f}"})
                    print(f"{model} at {labels:,} labels: not started ({records[-1]['why']})", flush=True)
                    out.write_text(json.dumps(records, indent=1) + "\n")
                    continue
            cmd = [sys.executable, __file__, "--cell", model, str(labels), "--docs", str(args.docs),
                   "--test-docs", str(args.test_docs), "--features", str(args.features), "--jobs", str(args.jobs),
                   "--seed", str(args.seed)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                sys.stderr.write(proc.stderr[-4000:])
                raise SystemExit(f"{model} at {labels} labels failed (exit {proc.returncode})")
            rec = json.loads(proc.stdout.strip().splitlines()[-1])
            rec["command"] = f"python benchmarks/label_scaling.py --labels {labels} --models {model}"
            records.append(rec)
            out.write_text(json.dumps(records, indent=1) + "\n")
            print(f"{model} at {labels:,} labels: fit {rec['fit_seconds']:.0f} s, "
                  f"{rec['predict_ms_per_doc']:.2f} ms/doc, peak {rec['peak_rss_gib']:.2f} GiB, P@1 {rec['p@1']:.3f}",
                  flush=True)
    plot(records, out.with_suffix(".png"))
    return 0


def plot(records: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, key, title in zip(axes, ("fit_seconds", "predict_ms_per_doc", "peak_rss_gib"),
                              ("fit (s)", "prediction (ms per document)", "peak memory (GiB)"), strict=True):
        for model in ("ovr", "tree"):
            pts = sorted((r["num_labels"], r[key]) for r in records if r["model"] == model and not r.get("skipped"))
            if pts:
                ax.plot(*zip(*pts, strict=True), marker="o", label={"ovr": "one-vs-rest", "tree": "label tree"}[model])
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("labels")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
