"""PECOS XR-Linear (``libpecos`` from PyPI) in the extreme multi-label side by side.

Its quick-start pipeline with default settings: label features by PIFA (each label's
averaged TF-IDF rows), a hierarchical balanced k-means index (``Indexer.gen``: 16 clusters
per node, leaves of at most 100 labels), ``XLinearModel.train`` (L2-loss SVMs with teacher-
forced negatives, weights below 0.1 pruned, all cores) and ``predict`` (beam 10, top 10).
PECOS's text vectoriser takes a JSON configuration; this runner gives it scikit-learn's
TF-IDF with labelwise's linear settings (word unigrams, 100,000 features at most, sublinear
tf, min_df 2), so that the two tools fit on the same features.

Runs in its own virtual environment (``benchmarks/compare/setup_envs.sh``):

    .bench-venvs/pecos/bin/python benchmarks/compare/run_pecos.py --dataset eurlex57k --topk 10
"""

from __future__ import annotations

import time

from common import data_dir, emit, read_split, runner_args, time_inference


def main() -> None:
    p = runner_args(__doc__ or "")
    p.add_argument("--topk", type=int, default=10, help="labels per document, best first")
    p.add_argument("--beam", type=int, default=10)
    p.add_argument("--threads", type=int, default=-1, help="threads of training and prediction (-1: all cores)")
    args = p.parse_args()
    directory = data_dir(args.data_dir)
    x_train, y_train = read_split(directory, args.dataset, "train", args.limit)
    x_test, _ = read_split(directory, args.dataset, "test", args.limit)

    import numpy as np
    import scipy.sparse as sp
    from pecos.xmc import Indexer, LabelEmbeddingFactory
    from pecos.xmc.xlinear.model import XLinearModel
    from sklearn.feature_extraction.text import TfidfVectorizer

    t0 = time.perf_counter()
    vec = TfidfVectorizer(ngram_range=(1, 1), max_features=100_000, sublinear_tf=True, min_df=2,
                          dtype=np.float32)
    X = sp.csr_matrix(vec.fit_transform(x_train), dtype=np.float32)
    names = sorted({lab for row in y_train for lab in row})
    index = {n: i for i, n in enumerate(names)}
    rows = np.repeat(np.arange(len(y_train)), [len(r) for r in y_train])
    cols = np.array([index[lab] for r in y_train for lab in r], dtype=np.int64)
    Y = sp.csr_matrix((np.ones(len(cols), dtype=np.float32), (rows, cols)), shape=(len(y_train), len(names)))
    Y.sum_duplicates()
    Y.data[:] = 1.0
    label_feat = LabelEmbeddingFactory.create(Y, X, method="pifa", threads=args.threads)
    chain = Indexer.gen(label_feat, threads=args.threads)
    model = XLinearModel.train(X, Y, C=chain, threads=args.threads)
    train_seconds = time.perf_counter() - t0

    def predict(texts: list[str]) -> list[list[str]]:
        scores = model.predict(sp.csr_matrix(vec.transform(texts), dtype=np.float32), beam_size=args.beam,
                               only_topk=args.topk, threads=args.threads)
        scores = sp.csr_matrix(scores)
        out = []
        for i in range(scores.shape[0]):
            lo, hi = scores.indptr[i], scores.indptr[i + 1]
            order = np.argsort(-scores.data[lo:hi], kind="stable")
            out.append([names[j] for j in scores.indices[lo:hi][order]])
        return out

    predictions, docs_per_s = time_inference(predict, x_test)
    emit({"train_seconds": train_seconds, "infer_docs_per_s": docs_per_s, "predictions": predictions,
          "num_train": len(x_train),
          "settings": {"method": "XLinearModel (PIFA, Indexer.gen defaults, train defaults)", "beam": args.beam,
                       "threads": args.threads,
                       "topk": args.topk, "tfidf": "scikit-learn, unigrams, max_features 100000, sublinear_tf, "
                       "min_df 2"}})


if __name__ == "__main__":
    main()
