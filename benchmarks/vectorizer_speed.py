"""The linear model's n-gram counting against scikit-learn's, on a training split.

Fits ``labelwise.ngrams.NgramTfidfVectorizer`` and scikit-learn's ``TfidfVectorizer`` with
the linear model's settings (uni+bigrams unless told, ``min_df`` 2, sublinear tf, at most
``--max-features``), each in a process of its own so that its peak memory is its own, and
checks that both give the same matrix and vocabulary.

    python benchmarks/vectorizer_speed.py --datasets imdb 20newsgroups goemotions sst2

Writes ``benchmarks/results/vectorizer/<dataset>.json``.
"""

from __future__ import annotations

import argparse
import json
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "vectorizer"


def fit_one(which: str, dataset: str, ngram_max: int, max_features: int, out: str) -> None:
    """In a child process: fit one vectorizer, save its matrix, print seconds and max RSS."""
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer

    from labelwise.data.catalog import resolve_data_dir
    from labelwise.data.formats import read_jsonl
    from labelwise.ngrams import NgramTfidfVectorizer

    texts = [ex.text for ex in read_jsonl(resolve_data_dir(None) / dataset / "train.jsonl.gz")]
    cls = NgramTfidfVectorizer if which == "labelwise" else TfidfVectorizer
    vec = cls(ngram_range=(1, ngram_max), min_df=2, max_features=max_features, sublinear_tf=True)
    t0 = time.perf_counter()
    X = vec.fit_transform(texts)
    seconds = time.perf_counter() - t0
    sp.save_npz(out, sp.csr_matrix(X))
    Path(out + ".vocab.json").write_text(json.dumps({k: int(v) for k, v in vec.vocabulary_.items()}))
    print(json.dumps({"seconds": seconds, "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["imdb"])
    p.add_argument("--ngram-max", type=int, default=2)
    p.add_argument("--max-features", type=int, default=100_000)
    p.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        which, dataset, out = args.child
        fit_one(which, dataset, args.ngram_max, args.max_features, out)
        return 0
    import numpy as np
    import scipy.sparse as sp

    from labelwise.profiling import device_name

    command = "python benchmarks/" + " ".join(shlex.quote(a) for a in [Path(__file__).name, *sys.argv[1:]])
    OUT.mkdir(parents=True, exist_ok=True)
    for dataset in args.datasets:
        row: dict = {}
        for which in ("labelwise", "scikit-learn"):
            out = f"/tmp/vectorizer-{dataset}-{which}.npz"
            done = subprocess.run([sys.executable, __file__, "--ngram-max", str(args.ngram_max), "--max-features",
                                   str(args.max_features), "--child", which, dataset, out],
                                  check=True, capture_output=True, text=True)
            row[which] = json.loads(done.stdout.strip().splitlines()[-1])
        a, b = (sp.load_npz(f"/tmp/vectorizer-{dataset}-{w}.npz") for w in ("labelwise", "scikit-learn"))
        va, vb = (json.loads(Path(f"/tmp/vectorizer-{dataset}-{w}.npz.vocab.json").read_text())
                  for w in ("labelwise", "scikit-learn"))
        same = va == vb and a.shape == b.shape and np.array_equal(a.indptr, b.indptr) and \
            np.array_equal(a.indices, b.indices) and np.array_equal(a.data, b.data)
        record = {"dataset": dataset, "system": "labelwise:ngrams-vs-sklearn", "split": "train",
                  "ngram_range": [1, args.ngram_max], "max_features": args.max_features, "identical": bool(same),
                  "fit_seconds": {k: v["seconds"] for k, v in row.items()},
                  "max_rss_mib": {k: v["max_rss_mib"] for k, v in row.items()},
                  "metrics": {}, "seeds": [], "device": device_name(), "command": command}
        (OUT / f"{dataset}.json").write_text(json.dumps(record, indent=1) + "\n")
        print(dataset, json.dumps({k: record[k] for k in ("identical", "fit_seconds", "max_rss_mib")}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
