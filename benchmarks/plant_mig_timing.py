"""Time and peak memory of the PLANT mutual-information-gain table on EURLEX57K train.

Loads the training split through labelwise, trains a WordPiece vocabulary on it, encodes
every document (truncated to ``--max-length`` ids), builds the binary doc x vocab occurrence
matrix and runs :func:`labelwise.plant.compute_mig`, printing the seconds of each stage and
the peak resident memory of the process.

    python benchmarks/plant_mig_timing.py --max-docs 200          # a quick check
    python benchmarks/plant_mig_timing.py --out runs/plant/mig    # all 45,000 documents

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

from labelwise.config import load_config
from labelwise.data.tokenize import TextTokenizer
from labelwise.plant import compute_mig, occurrence_matrix
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

    t0 = time.perf_counter()
    tok = TextTokenizer.train_wordpiece(texts, vocab_size=args.vocab_size, min_frequency=2,
                                        lowercase=True)
    times["tokenizer_train_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    ids = tok.encode(texts, args.max_length)
    times["encode_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    x = occurrence_matrix(ids, tok.vocab_size, ignore_ids=(tok.pad_id, tok.cls_id, tok.sep_id))
    del ids
    times["occurrence_s"] = time.perf_counter() - t0

    def progress(done: int, total: int) -> None:
        print(f"\r  mig: {done}/{total} labels", end="", file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    table = compute_mig(x, y, top_n=args.top_n, label_chunk=args.label_chunk,
                        positive_only=not args.all_associations, progress=progress)
    print(file=sys.stderr)
    times["mig_s"] = time.perf_counter() - t0
    if args.out is not None:
        table.save(args.out)

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
        "peak_rss_mib": peak_rss_mib(),
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
