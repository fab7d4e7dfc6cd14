"""Cost against the number of labels: one-vs-rest against the label tree, on generated data.

Documents are sparse feature vectors; their number is fixed at every label count, and so is
the number of labels a document has on average (``--labels-per-doc``), so that the label
count is what grows. Label frequencies follow a Zipf law on top of one document for every
label (the document count times the labels a document must cover the largest label count).
Each label has four signature features; a document holds two of them for each of its labels
plus noise features, so its number of features does not grow with the label count either,
and the labels are learnable.

Each (model, label count) runs in a fresh process, so the peak resident memory it reports is
its own: fit time, peak memory and prediction time per document (all test documents, after
a warm-up). One-vs-rest fits one classifier per label on every document: where there are
more labels than ``--ovr-sample``, it fits that many, spread evenly over the labels (head to
tail), and its fit time is the sample's time scaled to all labels (marked ``estimated``); its
prediction is timed with the sample's weights repeated to the full label count (the same
sparse product as real weights of that density) where they fit in the memory free, else
the sample's own prediction time scaled to all labels (``predict_estimated``). Where even a lower bound on
its weights would not fit in memory, it is not started, and the bound is written instead.

    python benchmarks/label_scaling.py                              # 10^4, 10^5, 10^6 labels
    python benchmarks/label_scaling.py --labels 10000 --models tree

Writes ``benchmarks/results/label_scaling.json`` (one record per model and label count, kept
between runs: a finished cell is not run again; cells of other settings are an error) and
``benchmarks/results/label_scaling.png``.
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
SETTINGS = ("docs", "test_docs", "labels_per_doc", "features", "ovr_sample", "jobs", "seed")
NOISE_FEATURES = 20  # a document's features that belong to none of its labels


def generate(num_labels: int, num_docs: int, labels_per_doc: float, num_features: int,
             seed: int) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """(X (N, V) L2-normalised, Y (N, L) 0/1): ``labels_per_doc`` labels a document on
    average, every label at least once, the rest of the labels' counts by a Zipf law."""
    total = int(labels_per_doc * num_docs)
    if total < num_labels:
        raise ValueError(f"{num_docs:,} documents with {labels_per_doc} labels each cannot hold {num_labels:,} "
                         "labels once each: raise --docs or --labels-per-doc")
    rng = np.random.default_rng(seed)
    signature = rng.integers(0, num_features, size=(num_labels, 4))
    weights = 1.0 / np.arange(1, num_labels + 1) ** 1.1
    counts = 1 + rng.multinomial(total - num_labels, weights / weights.sum())
    occurrences = np.repeat(np.arange(num_labels), counts)
    docs = rng.integers(0, num_docs, size=len(occurrences))
    Y = sp.csr_matrix((np.ones(len(docs), dtype=np.float32), (docs, occurrences)), shape=(num_docs, num_labels))
    Y.sum_duplicates()
    Y.data[:] = 1.0
    # features: two of the four signature features of each of a document's labels, and noise
    lab_rows = np.repeat(np.arange(num_docs), np.diff(Y.indptr))
    pick = rng.integers(0, 4, size=(len(lab_rows), 2))
    rows = np.concatenate([np.repeat(lab_rows, 2), np.repeat(np.arange(num_docs), NOISE_FEATURES)])
    cols = np.concatenate([signature[Y.indices[:, None], pick].ravel(),
                           rng.integers(0, num_features, size=NOISE_FEATURES * num_docs)])
    vals = np.concatenate([np.ones(2 * len(lab_rows)), rng.random(NOISE_FEATURES * num_docs)]).astype(np.float32)
    X = sp.csr_matrix((vals, (rows, cols)), shape=(num_docs, num_features))
    X.sum_duplicates()
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    return sp.csr_matrix(sp.diags(1.0 / np.maximum(norms, 1e-12)) @ X, dtype=np.float32), Y


def ovr_weight_gib(X: sp.csr_matrix, Y: sp.csr_matrix) -> float:
    """A lower bound on one-vs-rest's weights: each label's SVM is non-zero at least on the
    features of its positive documents (12 bytes a non-zero in CSR)."""
    used = (sp.csr_matrix(Y.T) @ sp.csr_matrix((X != 0).astype(np.float32))).nnz
    return 12.0 * used / 2**30


def csr_gib(m: sp.csr_matrix) -> float:
    return (m.data.nbytes + m.indices.nbytes + m.indptr.nbytes) / 2**30


def available_gib() -> float:
    """Memory the kernel reports as available now (MemAvailable), in GiB; the machine's size
    where /proc/meminfo is missing."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return MEMORY_GIB


def top1_hits(gold: sp.csr_matrix, top1: np.ndarray) -> float:
    return float(np.mean([gold[i, j] != 0 if j >= 0 else False for i, j in enumerate(top1)]))


def cell(model: str, num_labels: int, args: argparse.Namespace) -> dict[str, Any]:
    """Fit and time one model at one label count (in this process)."""
    sys.path.insert(0, str(ROOT / "src"))
    from functools import partial

    from labelwise import linear_tree
    from labelwise.linear import TfidfLinear, _fit_binary, _fit_per_label

    X, Y = generate(num_labels, args.docs + args.test_docs, args.labels_per_doc, args.features, args.seed)
    Xtr, Ytr, Xte, gold = X[: args.docs], Y[: args.docs], X[args.docs :], Y[args.docs :]
    cfg = TfidfLinear.Config(C=1.0, tol=0.01, n_jobs=args.jobs, tree=TREE if model == "tree" else None)
    record: dict[str, Any] = {"model": model, "num_labels": num_labels, "num_train": args.docs,
                              "num_test": args.test_docs, "num_features": args.features,
                              "labels_per_doc": float(Y.nnz / Y.shape[0]), "features_per_doc": float(X.nnz / X.shape[0]),
                              "jobs": args.jobs}
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
        record.update(fit_seconds=fit, predict_ms_per_doc=1000 * predict / args.test_docs, **{"p@1": top1_hits(gold, top1)},
                      weights_gib=nodes.nbytes / 2**30)
    else:
        # the sample: labels spread evenly over the Zipf ranks (label 0 the most frequent)
        sample = num_labels if args.ovr_sample in (0, None) or args.ovr_sample >= num_labels else args.ovr_sample
        ids = np.unique(np.linspace(0, num_labels - 1, sample).round().astype(np.int64))
        coef, b = _fit_per_label(Xtr, sp.csc_matrix(Ytr)[:, ids], cfg)
        fit = time.perf_counter() - t0
        coef = sp.csr_matrix(coef)
        scale = num_labels / len(ids)
        record.update(fit_seconds=fit * scale, estimated=len(ids) < num_labels, fitted_labels=len(ids),
                      weights_gib=csr_gib(coef) * scale)
        if record["weights_gib"] > 0.8 * MEMORY_GIB:
            record["why"] = f"its weights would need about {record['weights_gib']:.1f} GiB of {MEMORY_GIB:.0f}"
        else:
            del X, Y
            # the sample's weights repeated to the full label count, where that fits (stacking
            # holds them twice for a moment); else the sample's own time scaled to all labels
            # (the product's cost is linear in the weights' non-zeros)
            reps = int(np.ceil(scale)) if 2.2 * record["weights_gib"] < 0.8 * available_gib() else 1
            W = sp.vstack([coef] * reps, format="csr")[:num_labels] if reps > 1 else coef
            del coef
            bias = np.tile(b, reps)[:num_labels] if reps > 1 else b
            top1 = []
            t1 = time.perf_counter()
            for s in range(0, Xte.shape[0], 256):  # in chunks: an (L, n) score block per chunk
                # W (CSR) times the chunk's transpose: no transposed copy of the weights
                scores = np.asarray((W @ Xte[s : s + 256].T).toarray()).T + bias
                top1.extend(scores.argmax(1).tolist())
            predict = time.perf_counter() - t1
            if W.shape[0] < num_labels:
                predict *= num_labels / W.shape[0]
                record["predict_estimated"] = True
            record["predict_ms_per_doc"] = 1000 * predict / args.test_docs
            if not record["estimated"]:  # the real weights of every label
                record["p@1"] = top1_hits(gold, np.asarray(top1))
    record["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return record


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--labels", nargs="+", type=int, default=[10_000, 100_000, 1_000_000])
    p.add_argument("--models", nargs="+", default=["tree", "ovr"], choices=["tree", "ovr"])
    p.add_argument("--docs", type=int, default=100_000, help="training documents at every label count")
    p.add_argument("--test-docs", type=int, default=2_000)
    p.add_argument("--labels-per-doc", type=float, default=12.0,
                   help="labels a document on average (times the documents: at least the largest label count)")
    p.add_argument("--features", type=int, default=100_000)
    p.add_argument("--ovr-sample", type=int, default=1_000,
                   help="labels one-vs-rest fits where there are more (its time scaled to all); 0: all labels")
    p.add_argument("--jobs", type=int, default=1, help="worker processes of the fits")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cell", nargs=2, metavar=("MODEL", "LABELS"), help=argparse.SUPPRESS)
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args(argv)
    if args.cell:
        print(json.dumps(cell(args.cell[0], int(args.cell[1]), args)))
        return 0
    settings = {k: getattr(args, k) for k in SETTINGS}
    out = Path(args.out)
    records = json.loads(out.read_text()) if out.is_file() else []
    other = [r for r in records if r.get("settings") != settings]
    if other:
        raise SystemExit(f"{out} holds cells of other settings ({other[0].get('settings')}); "
                         "delete it, or write these to another file with --out")
    done = {(r["model"], r["num_labels"]) for r in records}
    for labels in args.labels:
        for model in args.models:
            if (model, labels) in done:
                continue
            if model == "ovr":
                X, Y = generate(labels, args.docs + args.test_docs, args.labels_per_doc, args.features, args.seed)
                need = ovr_weight_gib(X[: args.docs], Y[: args.docs])
                if need > 0.8 * MEMORY_GIB:
                    records.append({"model": model, "num_labels": labels, "skipped": True, "weights_gib_at_least": need,
                                    "settings": settings,
                                    "why": f"its weights alone would need at least {need:.1f} GiB of {MEMORY_GIB:.0f}"})
                    print(f"{model} at {labels:,} labels: not started ({records[-1]['why']})", flush=True)
                    out.write_text(json.dumps(records, indent=1) + "\n")
                    continue
            cmd = [sys.executable, __file__, "--cell", model, str(labels)]
            for k, v in settings.items():
                cmd += [f"--{k.replace('_', '-')}", str(v)]
            t = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                sys.stderr.write(proc.stderr[-4000:])
                raise SystemExit(f"{model} at {labels} labels failed (exit {proc.returncode})")
            rec = json.loads(proc.stdout.strip().splitlines()[-1])
            rec.update(settings=settings, wall_seconds=time.perf_counter() - t,
                       command=f"python benchmarks/label_scaling.py --labels {labels} --models {model}")
            records.append(rec)
            out.write_text(json.dumps(records, indent=1) + "\n")
            ms = f"{rec['predict_ms_per_doc']:.2f} ms/doc" if "predict_ms_per_doc" in rec else rec.get("why", "")
            print(f"{model} at {labels:,} labels: fit {rec['fit_seconds']:.0f} s"
                  f"{' (estimated)' if rec.get('estimated') else ''}, {ms}, peak {rec['peak_rss_gib']:.2f} GiB",
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
            flag = {"fit_seconds": "estimated", "predict_ms_per_doc": "predict_estimated"}.get(key, "")
            # a cell whose weights would not fit was not scored: its peak is the sample's, so the
            # memory panel shows what its weights alone would need (estimated)
            cells = sorted((r["num_labels"], r["weights_gib"], True) if key == "peak_rss_gib" and "why" in r
                           else (r["num_labels"], r[key], bool(r.get(flag)))
                           for r in records if r["model"] == model and key in r)
            if not cells:
                continue
            name = {"ovr": "one-vs-rest", "tree": "label tree"}[model]
            line, = ax.plot([c[0] for c in cells], [c[1] for c in cells], marker="o", label=name)
            guessed = [c for c in cells if c[2]]
            if guessed:  # scaled from a sample of the labels: hollow markers
                ax.plot([c[0] for c in guessed], [c[1] for c in guessed], "o", mfc="white", color=line.get_color(),
                        label=f"{name} (estimated from a sample of labels)")
        if key == "peak_rss_gib":
            ax.axhline(MEMORY_GIB, color="grey", linestyle="--", linewidth=1, label=f"{MEMORY_GIB:.0f} GiB (this machine)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("labels")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
