"""Time and peak memory of the PLANT mutual-information-gain table on EURLEX57K train.

Loads the training split through labelwise, trains a WordPiece vocabulary on it, encodes
every document (truncated to ``--max-length`` ids), builds the binary doc x vocab occurrence
matrix and runs :func:`labelwise.plant.compute_mig`, printing the seconds of each stage and
the peak resident memory of the process.

    python benchmarks/plant_mig_timing.py --max-docs 200          # a quick check
    python benchmarks/plant_mig_timing.py --out runs/plant/mig    # all 45,000 documents

Then, unless ``--l2r-factor-dim 0``, it trains the learning-to-rank model on the table and
adds its seconds, memory growth and held-out NDCG@10.

The claim it checks: the full table (4,271 labels, 30,000-token vocabulary) takes minutes and
bounded memory on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from labelwise.components import load_config
from labelwise.data.tokenize import TextTokenizer
from labelwise.plant import compute_mig, occurrence_matrix
from labelwise.plant.l2r import train_l2r
from labelwise.plant.pipeline import measure
from labelwise.profiling import device_name
from labelwise.runner import load_run_data


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def label_matrix(labels: list[tuple[str, ...]]) -> tuple[sp.csr_matrix, list[str]]:
    """(N, L) binary CSR over the labels seen in ``labels`` (sorted names)."""
    names = sorted({lab for labs in labels for lab in labs})
    index = {name: i for i, name in enumerate(names)}
    rows = np.repeat(np.arange(len(labels)), [len(set(labs)) for labs in labels])
    cols = np.fromiter((index[lab] for labs in labels for lab in sorted(set(labs))), dtype=np.int64)
    data = np.ones(len(cols), dtype=np.float32)
    return sp.csr_matrix((data, (rows, cols)), shape=(len(labels), len(names))), names


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--max-docs", type=int, default=None, help="cap on training documents")
    ap.add_argument("--max-length", type=int, default=4096, help="ids kept per document")
    ap.add_argument("--vocab-size", type=int, default=30000)
    ap.add_argument("--top-n", type=int, default=100, help="tokens kept per label")
    ap.add_argument("--label-chunk", type=int, default=256, help="labels per sparse product")
    ap.add_argument("--all-associations", action="store_true",
                    help="keep negatively associated pairs too (positive_only=False)")
    ap.add_argument("--out", type=Path, default=None, help="save the table to this directory")
    ap.add_argument("--l2r-factor-dim", type=int, default=64,
                    help="then train the L2R model on the table with this factor dimension "
                         "(the benchmark configs use 64); 0 skips it")
    ap.add_argument("--l2r-epochs", type=int, default=10)
    ap.add_argument("--encode-batch", type=int, default=2000, help="documents encoded at a time")
    ap.add_argument("--json", type=Path, default=None,
                    help="also write the record here (e.g. benchmarks/results/profile/"
                         "eurlex57k__plant-stage.json)")
    args = ap.parse_args(argv)

    times: dict[str, float] = {}
    overrides = ["task=extreme", "data.dataset=eurlex57k", "data.max_eval=1"]
    if args.max_docs is not None:
        overrides.append(f"data.max_train={args.max_docs}")
    t0 = time.perf_counter()
    data = load_run_data(load_config(None, overrides))
    texts = [ex.text for ex in data.train]
    y, names = label_matrix([ex.labels for ex in data.train])
    times["load_s"] = time.perf_counter() - t0

    steps: dict[str, dict[str, float]] = {}  # seconds and sampled memory of each stage
    with measure("tokenizer_train", steps):
        tok = TextTokenizer.train_wordpiece(texts, vocab_size=args.vocab_size, min_frequency=2,
                                            lowercase=True)

    # encoded and turned into occurrences a slice at a time: all 45,000 documents' ids at
    # 4,096 tokens held at once took 13 GiB
    ignore = (tok.pad_id, tok.cls_id, tok.sep_id)
    parts = []
    with measure("encode_and_occurrence", steps):
        for start in range(0, len(texts), args.encode_batch):
            ids = tok.encode(texts[start : start + args.encode_batch], args.max_length)
            parts.append(occurrence_matrix(ids, tok.vocab_size, ignore_ids=ignore))
        x = sp.vstack(parts, format="csr")
        del parts, ids

    def progress(done: int, total: int) -> None:
        print(f"\r  mig: {done}/{total} labels", end="", file=sys.stderr, flush=True)

    with measure("mig", steps):
        table = compute_mig(x, y, top_n=args.top_n, label_chunk=args.label_chunk,
                            positive_only=not args.all_associations, progress=progress)
    print(file=sys.stderr)
    if args.out is not None:
        table.save(args.out)

    l2r_report: dict[str, float] = {}
    if args.l2r_factor_dim > 0:
        with measure("l2r", steps):
            _, report = train_l2r(table, factor_dim=args.l2r_factor_dim, epochs=args.l2r_epochs,
                                  progress=True)
        l2r_report = {"l2r_factor_dim": float(args.l2r_factor_dim),
                      "l2r_initial_heldout_ndcg": float(report["initial_heldout_ndcg"]),
                      "l2r_heldout_ndcg": float(report["heldout_ndcg"][-1]),
                      "l2r_train_ndcg": float(report["train_ndcg"][-1])}
    for name, step in steps.items():
        times[f"{name}_s"] = step["seconds"]
        times[f"{name}_rss_increase_mib"] = step["rss_increase_mb"]
        times[f"{name}_rss_peak_mib"] = step["rss_peak_mb"]

    lengths = table.row_lengths()
    result = {
        "num_docs": float(x.shape[0]),
        "num_labels": float(len(names)),
        "vocab_size": float(tok.vocab_size),
        "occurrence_nnz": float(x.nnz),
        "table_nnz": float(table.nnz),
        "labels_with_tokens": float(np.count_nonzero(lengths)),
        "mean_tokens_per_label": float(lengths.mean()) if len(lengths) else 0.0,
        **times,
        **l2r_report,
        "peak_rss_mib": peak_rss_mib(),
    }
    print(json.dumps(result, indent=2))
    if args.json is not None:

        record = {"dataset": "eurlex57k", "system": "labelwise:plant-stage", "metrics": {},
                  "timings": result, "seeds": [0], "device": device_name(),
                  "train_seconds": times.get("mig_s", 0.0) + times.get("l2r_s", 0.0),
                  "note": "*_rss_peak_mib: the process's resident memory at its highest during "
                          "that stage, sampled every 5 ms; *_rss_increase_mib: that minus the "
                          "stage's start",
                  "command": "python benchmarks/plant_mig_timing.py " + " ".join(argv or sys.argv[1:]),
                  "date": time.strftime("%Y-%m-%d")}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(record, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
