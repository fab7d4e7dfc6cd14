"""TF-IDF features with one-vs-rest linear classifiers (LIBLINEAR via scikit-learn), no torch.

The classic strong baseline for text classification and the reference point for the neural
models: minutes on a CPU, competitive on long-tailed and extreme multi-label data. The fitted
model is nothing but an idf vector, a vocabulary and a (L, V) weight matrix, so it is stored
without pickle (see :mod:`labelwise.linear_io`) and scored with one sparse product per chunk.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed, effective_n_jobs
from pydantic import BaseModel, ConfigDict, Field, field_validator
from scipy.special import expit, softmax
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from labelwise import liblinear, linear_tree
from labelwise.linear_io import LinearState, load_state, save_state
from labelwise.linear_tree import LabelTree, NodeWeights
from labelwise.ngrams import NgramTfidfVectorizer

TASKS = ("multiclass", "multilabel", "hierarchical", "extreme")
CONSTANT_SCORE = 20.0  # |score| of a label never (or always) positive in training: p ~ 2e-9
DENSE_COEF_LIMIT = 2**24  # W stays dense up to this many L * V entries, or if CSR is no smaller
UNREACHED = -1e4  # a label tree's score for a label the beam did not reach
SCORE_CHUNK = 2**22  # rows per prediction chunk = SCORE_CHUNK // L (bounds temporaries)
# feature non-zeros x labels below which one process fits every label: worker start-up and
# copies of the features outweigh the gain on small jobs (GoEmotions' 28 labels: 7.7 s in one
# process, 15.6 s in two, on a machine whose other core was busy); EURLEX57K is ~60x above it
PARALLEL_MIN_WORK = 500_000_000


class TreeConfig(BaseModel):
    """The label tree's shape and search (defaults as PECOS XR-Linear's)."""

    model_config = ConfigDict(extra="forbid")
    branching: int = Field(16, ge=2, description="clusters per node")
    leaf_size: int = Field(100, ge=1, description="a cluster of at most this many labels has them as children")
    beam: int = Field(10, ge=1, description="clusters expanded per document at each depth when scoring")
    prune: float = Field(
        0.1, ge=0.0, description="weights of at most this magnitude are dropped after fitting (memory)"
    )
    routing_tol: float | None = Field(
        None, gt=0.0,
        description="LIBLINEAR's stopping tolerance for the classifiers of clusters whose children are "
                    "clusters (they only choose where the beam goes); None: the model's tol",
    )
    train_beam: int | None = Field(
        None, ge=1,
        description="train each cluster also on the documents that the clusters above send to it with a "
                    "beam this wide (matcher-aware negatives, as PECOS's tfn+man), fitting depth by depth; "
                    "None: only on the documents with a label under it (teacher forcing)",
    )
    path_power: float = Field(
        linear_tree.HINGE_POWER, gt=0.0,
        description="L2-loss SVM: a child's log-probability along the path is -max(0, 1 - score)^path_power",
    )
    trees: int = Field(
        1, ge=1,
        description="trees fitted on differently seeded clusterings (seed, seed + 1, ...); a label scores "
                    "the log of its mean probability over them, 0 where a tree's beam missed it (an "
                    "ensemble, as Parabel's); each tree costs one more fit and one more beam search",
    )


class TfidfLinear:
    """TF-IDF + linear classifiers for every task; ``fit`` returns self.

    Multi-class trains one model over all classes (multinomial logistic regression, or
    one-vs-rest squared-hinge SVMs); multi-label, hierarchical and extreme tasks train one
    binary classifier per label. Scores are ``X @ W.T + b``.

    Example:
        >>> clf = TfidfLinear(C=4.0).fit(texts, Y, task="multilabel")
        >>> probs = clf.predict_proba(["a new document"])  # (1, L)
    """

    class Config(BaseModel):
        """Hyperparameters.

        The defaults were chosen on the validation splits of six task kinds and sizes
        (``benchmarks/linear_defaults.py``; RESULTS.md, "Strong defaults"):

        - ``loss="squared_hinge"`` (L2-loss SVM, LIBLINEAR's classic) matched or beat
          logistic regression everywhere (+2.8 accuracy on 20 Newsgroups, +1.9 on IMDB) and
          fits faster; its scores are not probabilities, which thresholds tuned on
          validation and a fusion's temperatures do not need.
        - ``C=[0.25, 1.0]``, chosen on validation with the features built once: short texts
          wanted 0.25 (+1.0 on SST-2, +2.3 micro-F1 on GoEmotions), long documents 1
          (+1.2 on 20 Newsgroups, +0.8 on IMDB); no single value served both.
        - ``ngram_range=(1, 2)``: word pairs ("not good") beat unigrams on every set but one.
        """

        model_config = ConfigDict(extra="forbid")
        max_features: int | None = Field(100_000, gt=0)
        ngram_range: tuple[int, int] = (1, 2)
        sublinear_tf: bool = True
        min_df: int = Field(2, ge=1)
        C: float | list[float] = Field(default_factory=lambda: [0.25, 1.0])  # a list is searched
        loss: Literal["logreg", "squared_hinge"] = "squared_hinge"
        class_weight: Literal["balanced"] | None = None
        tol: float = Field(
            1e-4, gt=0.0,
            description=(
                "LIBLINEAR's stopping tolerance (scikit-learn's default; LIBLINEAR's own is 0.1). "
                "On all of EURLEX57K a label tree fitted 1.3x faster at 0.01 with the same P@5, "
                "and lost 0.8 P@5 at 0.1"
            ),
        )
        weighting: Literal["tfidf", "nb"] = Field(
            "tfidf",
            description=(
                "tfidf: TF-IDF weighted n-grams; nb: binarised n-grams scaled, for each label, "
                "by their naive-Bayes log-count ratio (NBSVM, Wang & Manning 2012), usually "
                "with ngram_range (1, 3) on sentiment and reviews"
            ),
        )
        nb_alpha: float = Field(1.0, gt=0.0, description="smoothing count of the NB ratio")
        n_jobs: int = Field(
            -1,
            description=(
                "worker processes fitting the per-label (and one-vs-rest) classifiers; -1 = all "
                "cores (the features are shared through memory-mapped files)"
            ),
        )
        tree: TreeConfig | None = Field(
            None,
            description=(
                "multi-label, hierarchical and extreme tasks: a label tree instead of one "
                "classifier per label (labelwise.linear_tree): fits and scores in time that "
                "grows with log(labels); None: one-vs-rest"
            ),
        )
        seed: int = 0
        max_words: int | None = Field(
            None,
            gt=0,
            description=(
                "read only the first max_words whitespace-separated words of each document, "
                "in training and in scoring (e.g. to see the window a neural model reads); "
                "None reads all"
            ),
        )

        @field_validator("C")
        @classmethod
        def _check_C(cls, v: float | list[float]) -> float | list[float]:
            values = v if isinstance(v, list) else [v]
            if not values or any(c <= 0 for c in values):
                raise ValueError(f"C must be > 0 (or a non-empty list of such values), got {v}")
            return v

        @field_validator("ngram_range")
        @classmethod
        def _check_ngrams(cls, v: tuple[int, int]) -> tuple[int, int]:
            if not 1 <= v[0] <= v[1]:
                raise ValueError(f"expected 1 <= min_n <= max_n, got {v}; e.g. (1, 2)")
            return v

    def __init__(self, config: Config | None = None, **params: Any) -> None:
        if config is not None and params:
            raise TypeError(
                "pass either config=TfidfLinear.Config(...) or keyword params, not both"
            )
        self.config = config if config is not None else self.Config(**params)
        self.vectorizer_: TfidfVectorizer | None = None
        self.coef_: np.ndarray | sp.csr_matrix | None = None  # (L, V) float32
        self.intercept_: np.ndarray | None = None  # (L,) float32
        self.task_: str | None = None
        self.min_df_used_: int | None = None
        self.C_: float | None = None  # the C fitted (chosen on validation from a list)
        self.C_search_: dict[float, float] = {}  # each C tried -> its validation rating
        self.trees_: list[LabelTree] = []  # with config.tree: the label trees (one unless an ensemble) ...
        self.nodes_: list[NodeWeights] = []  # ... and each one's clusters' classifiers (coef_ unused)

    # ----------------------------------------------------------------- training
    def fit(
        self, texts: list[str], Y: np.ndarray | sp.spmatrix, task: str,
        valid_texts: list[str] | None = None, judge: Callable[[np.ndarray], float] | None = None,
        on_labels: Callable[[int], None] | None = None,
        on_documents: Callable[[int], None] | None = None,
    ) -> TfidfLinear:
        """Fit on ``texts`` and (N, L) 0/1 targets (one-hot rows for ``multiclass``). With a
        list of C values, ``judge`` rates the raw scores (N_valid, L) of ``valid_texts`` for
        each (higher is better) and the best is kept; the features are built once.
        ``on_documents(k)`` is called as each block of k texts is read into features, and
        ``on_labels(k)`` as each block of k labels is fitted (progress bars)."""
        texts = _first_words(_check_texts(texts), self.config.max_words)
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {task!r}")
        Y = sp.csc_matrix(Y) if sp.issparse(Y) else np.asarray(Y)
        if Y.ndim != 2 or Y.shape[0] != len(texts):
            raise ValueError(
                f"expected Y of shape ({len(texts)}, L) (one row per text), got {Y.shape}; "
                "for class ids use np.eye(L)[ids]"
            )
        grid = self.config.C if isinstance(self.config.C, list) else [self.config.C]
        if (valid_texts is None) != (judge is None):
            raise ValueError("pass valid_texts and judge together (or neither)")
        self.vectorizer_, X, self.min_df_used_ = _fit_vectorizer(texts, self.config, on_documents)
        self.C_search_ = {}
        tree_cfg = self.config.tree
        if tree_cfg is not None and task != "multiclass":
            reps = linear_tree.label_representations(X, Y)
            self.trees_ = [linear_tree.build_tree(reps, tree_cfg.branching, tree_cfg.leaf_size, self.config.seed + t)
                           for t in range(tree_cfg.trees)]
        else:
            self.trees_ = []
        if len(grid) > 1 and valid_texts is None:
            # no validation data given: choose C on a seeded tenth of the training set, then
            # fit that C on all of it
            rest, held = _holdout(len(texts), self.config.seed)
            self.C_search_ = self._fit_grid(X[rest], Y[rest], task, grid, X[held], _default_judge(Y[held], task),
                                            on_labels)
            grid = [max(self.C_search_, key=self.C_search_.__getitem__)]
        X_valid = None if valid_texts is None else self.vectorizer_.transform(
            _first_words(_check_texts(valid_texts), self.config.max_words))
        self.C_search_ = self._fit_grid(X, Y, task, grid, X_valid, judge, on_labels) or self.C_search_
        self.task_ = task
        return self

    def _fit_grid(self, X: sp.csr_matrix, Y: Any, task: str, grid: list[float], X_valid: sp.csr_matrix | None,
                  judge: Callable[[np.ndarray], float] | None,
                  on_labels: Callable[[int], None] | None = None) -> dict[float, float]:
        """Fit each C of ``grid`` on ``X``; keep the one ``judge`` rates best on ``X_valid``
        (the only one where the grid has one value). Returns {C: rating}."""
        best, ratings = -np.inf, {}
        for c in grid:
            cfg = self.config.model_copy(update={"C": float(c)})
            if self.trees_:
                nodes = [_fit_tree(X, Y, tree, cfg, on_labels) for tree in self.trees_]
            elif task == "multiclass":
                coef, b = _fit_multiclass(X, _class_ids(Y), Y.shape[1], cfg, on_labels)
            else:
                coef, b = _fit_per_label(X, Y, cfg, on_labels)
            if len(grid) > 1:
                assert X_valid is not None and judge is not None
                scores = self._tree_scores(X_valid, nodes) if self.trees_ else \
                    np.asarray((X_valid @ coef.T).toarray()) + b
                ratings[float(c)] = value = float(judge(scores))
                if value <= best:
                    continue
                best = value
            if self.trees_:
                self.nodes_, self.coef_, self.intercept_ = nodes, None, None
            else:
                self.coef_, self.intercept_, self.nodes_ = _compact(coef), b, []
            self.C_ = float(c)
        return ratings

    @property
    def tree_(self) -> LabelTree | None:
        """The (first) label tree; None for a model without one."""
        return self.trees_[0] if self.trees_ else None

    def _tree_scores(self, X: sp.csr_matrix, nodes: list[NodeWeights] | None = None) -> np.ndarray:
        """(N, L) float32: each label's path log-probability where the beam reached it (an
        ensemble's: :func:`linear_tree.mean_probability`), ``UNREACHED`` elsewhere."""
        cfg = self.config.tree
        nodes = nodes if nodes is not None else self.nodes_
        assert self.trees_ and cfg is not None and len(nodes) == len(self.trees_)
        reached = linear_tree.mean_probability([
            linear_tree.beam_search(w, tree, X, cfg.beam, self.config.loss, power=cfg.path_power)
            for tree, w in zip(self.trees_, nodes, strict=True)])
        out = np.full(reached.shape, UNREACHED, dtype=np.float32)
        rows = np.repeat(np.arange(reached.shape[0]), np.diff(reached.indptr))
        out[rows, reached.indices] = reached.data
        return out

    # --------------------------------------------------------------- prediction
    def decision_function(self, texts: list[str]) -> np.ndarray:
        """Raw scores, (N, L) float32, computed in row chunks to bound memory."""
        if self.tree_ is not None:
            vec = self._fitted_vectorizer()
            texts = _first_words(_check_texts(texts), self.config.max_words)
            return self._tree_scores(vec.transform(texts))
        vec, coef, b = self._fitted()
        texts = _first_words(_check_texts(texts), self.config.max_words)
        out = np.empty((len(texts), coef.shape[0]), dtype=np.float32)
        step = max(1, SCORE_CHUNK // max(coef.shape[0], 1))
        for s in range(0, len(texts), step):
            X = vec.transform(texts[s : s + step])  # (n, V) sparse
            scores = X @ coef.T  # (n, L)
            out[s : s + step] = (scores.toarray() if sp.issparse(scores) else scores) + b
        return out

    @property
    def num_labels(self) -> int:
        """Labels (classes) the fitted model scores."""
        if self.tree_ is not None:
            return self.tree_.num_labels
        return int(self._fitted()[1].shape[0])

    def top_labels(self, texts: list[str], k: int) -> np.ndarray:
        """(N, min(k, L)) int64: each text's ``k`` highest-scoring label ids, best first (a
        tree's unreached labels, tied at ``UNREACHED``, last), scored in row chunks so that
        memory stays bounded whatever the label count."""
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        texts = _check_texts(texts)
        num_labels = self.num_labels
        k = min(k, num_labels)
        out = np.empty((len(texts), k), dtype=np.int64)
        step = max(1, SCORE_CHUNK // max(num_labels, 1))
        for s in range(0, len(texts), step):
            scores = self.decision_function(texts[s : s + step])
            top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
            order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
            out[s : s + step] = np.take_along_axis(top, order, axis=1)
        return out

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """Softmax (multiclass) or sigmoid (otherwise) of the scores: for ``logreg`` these are
        exactly the fitted model's probabilities; for ``squared_hinge`` they are uncalibrated."""
        scores = self.decision_function(texts)
        return softmax(scores, axis=1) if self.task_ == "multiclass" else expit(scores)

    # ------------------------------------------------------------------ storage
    def save(self, directory: str | Path) -> Path:
        """Write ``linear.safetensors`` + ``linear.json`` (no pickle) into ``directory``."""
        vec = self._fitted_vectorizer()
        state = LinearState(
            config=self.config.model_dump(mode="json"),
            task=str(self.task_),
            vectorizer=_vectorizer_params(self.config),
            vocabulary=dict(vec.vocabulary_),
            idf=vec.idf_ if vec.use_idf else np.ones(len(vec.vocabulary_)),
            coef=self.coef_,
            intercept=self.intercept_,
            extra={"min_df_used": self.min_df_used_, "C": self.C_},
            tree=linear_tree.tree_arrays(list(zip(self.trees_, self.nodes_, strict=True))) if self.trees_ else None,
        )
        return save_state(state, directory)

    @classmethod
    def load(cls, directory: str | Path) -> TfidfLinear:
        """Rebuild a model saved by :meth:`save`; its scores are identical."""
        state = load_state(directory)
        model = cls(cls.Config.model_validate(state.config))
        params = dict(state.vectorizer, ngram_range=tuple(state.vectorizer["ngram_range"]))
        vec = NgramTfidfVectorizer(**params, vocabulary=state.vocabulary)
        if vec.use_idf:
            vec.idf_ = state.idf  # the setter builds the inner TfidfTransformer
        else:  # nothing to learn beyond the fixed vocabulary: this only marks it fitted
            vec.fit([""])
        model.vectorizer_, model.coef_, model.intercept_ = vec, state.coef, state.intercept
        if state.tree is not None:
            forest = linear_tree.tree_from_arrays(state.tree, len(state.vocabulary))
            model.trees_, model.nodes_ = [t for t, _ in forest], [w for _, w in forest]
        model.task_, model.min_df_used_ = state.task, state.extra.get("min_df_used")
        model.C_ = state.extra.get("C")
        return model

    def _fitted(self) -> tuple[TfidfVectorizer, np.ndarray | sp.csr_matrix, np.ndarray]:
        vec = self._fitted_vectorizer()
        if self.coef_ is None or self.intercept_ is None:
            raise ValueError("TfidfLinear: this model is a label tree; it has no one-vs-rest weights")
        return vec, self.coef_, self.intercept_

    def _fitted_vectorizer(self) -> TfidfVectorizer:
        if self.vectorizer_ is None or (self.coef_ is None and not self.nodes_):
            raise ValueError(
                "TfidfLinear is not fitted: call fit(texts, Y, task) or TfidfLinear.load(dir)"
            )
        return self.vectorizer_


def _holdout(n: int, seed: int, fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Sorted row indices (rest, held out) of a seeded ``fraction`` of ``n`` (at least one)."""
    order = np.random.default_rng(seed).permutation(n)
    k = min(max(1, int(round(fraction * n))), n - 1)
    return np.sort(order[k:]), np.sort(order[:k])


def _default_judge(Y: Any, task: str) -> Callable[[np.ndarray], float]:
    """Accuracy of the best score (multiclass) or micro-F1 of positive scores (otherwise)."""
    from labelwise.metrics.functional import confusion_counts, precision_recall_f1

    target = np.asarray(Y.toarray() if sp.issparse(Y) else Y) != 0

    def judge(scores: np.ndarray) -> float:
        if task == "multiclass":
            return float((scores.argmax(1) == target.argmax(1)).mean())
        tp, fp, fn = confusion_counts(scores > 0, target)
        return precision_recall_f1(tp, fp, fn, average="micro")[2]

    return judge


def _check_texts(texts: Any) -> list[str]:
    if isinstance(texts, str):
        raise TypeError(
            "expected a list of strings (one per document), got one str; wrap it: [text]"
        )
    texts = list(texts)
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
        raise TypeError(
            f"expected a list of strings, got {type(texts[bad]).__name__} at index {bad}"
        )
    return texts


def _first_words(texts: list[str], max_words: int | None) -> list[str]:
    """Each text cut to its first ``max_words`` whitespace-separated words (all with None)."""
    if max_words is None:
        return texts
    return [" ".join(t.split(maxsplit=max_words)[:max_words]) for t in texts]


def _class_ids(Y: np.ndarray | sp.csc_matrix) -> np.ndarray:
    dense = np.asarray(Y.toarray() if sp.issparse(Y) else Y)  # type: ignore[union-attr]
    n_pos = (dense != 0).sum(axis=1)
    if (n_pos != 1).any():
        row = int(np.flatnonzero(n_pos != 1)[0])
        raise ValueError(
            f"task 'multiclass' needs one-hot rows, got row {row} with {int(n_pos[row])} "
            "positives; use task 'multilabel' for several labels per document"
        )
    return dense.argmax(axis=1)


def _vectorizer_params(cfg: TfidfLinear.Config, min_df: int | None = None) -> dict[str, Any]:
    """TfidfVectorizer keyword arguments; without ``min_df`` only those that transform text
    (what a saved model needs alongside its vocabulary and idf)."""
    params: dict[str, Any] = {
        "lowercase": True,
        "token_pattern": r"(?u)\b\w\w+\b",
        "ngram_range": list(cfg.ngram_range),
        "sublinear_tf": cfg.sublinear_tf,
        "norm": "l2",
        "use_idf": True,
        "smooth_idf": True,
    }
    if cfg.weighting == "nb":  # presence of each n-gram; the NB ratio comes per label
        params.update(binary=True, use_idf=False, sublinear_tf=False)
    if min_df is not None:
        params.update(ngram_range=cfg.ngram_range, min_df=min_df, max_features=cfg.max_features)
    return params


def _fit_vectorizer(
    texts: list[str], cfg: TfidfLinear.Config, on_documents: Callable[[int], None] | None = None
) -> tuple[TfidfVectorizer, sp.csr_matrix, int]:
    """Fit the vectorizer; when ``min_df`` prunes every term (tiny corpora) retry with 1.
    ``on_documents(k)`` as each block of k texts has been read."""
    min_df = cfg.min_df
    while True:
        vec = NgramTfidfVectorizer(**_vectorizer_params(cfg, min_df))
        try:
            return vec, vec.fit_transform(_reported(texts, on_documents)).tocsr(), min_df
        except ValueError as err:
            if min_df == 1:
                raise ValueError(
                    f"no terms found in the {len(texts)} training texts ({err}); expected words "
                    "of two or more letters or digits; check that the text field is not empty"
                ) from None
        warnings.warn(
            f"min_df={min_df} left no terms in {len(texts)} documents; using min_df=1",
            stacklevel=3,
        )
        min_df = 1


def _reported(texts: list[str], on_documents: Callable[[int], None] | None,
              block: int = 2_000) -> Iterator[str] | list[str]:
    """``texts``, calling ``on_documents(k)`` once each block of k of them has been taken."""
    if on_documents is None:
        return texts

    def gen() -> Iterator[str]:
        for start in range(0, len(texts), block):
            part = texts[start : start + block]
            yield from part
            on_documents(len(part))

    return gen()


def _compact(coef: sp.csr_matrix) -> np.ndarray | sp.csr_matrix:
    """Dense float32 W when small or when CSR (12 bytes a non-zero) would not save memory."""
    size = coef.shape[0] * coef.shape[1]
    return coef.toarray() if size <= DENSE_COEF_LIMIT or 4 * size <= 12 * coef.nnz else coef


def _make_classifier(cfg: TfidfLinear.Config, dual: bool | None = None) -> LogisticRegression | LinearSVC:
    if cfg.loss == "logreg":
        return LogisticRegression(
            C=cfg.C, solver="liblinear", class_weight=cfg.class_weight, random_state=cfg.seed, tol=cfg.tol
        )
    return LinearSVC(C=cfg.C, class_weight=cfg.class_weight, random_state=cfg.seed, tol=cfg.tol,
                     dual="auto" if dual is None else dual)


def _nb_ratio(X: sp.csr_matrix, y: np.ndarray, alpha: float) -> np.ndarray:
    """(V,) naive-Bayes log-count ratio of each feature's presence in positive against
    negative documents, each count smoothed by ``alpha`` and normalised to a distribution."""
    present = (X != 0).astype(np.float32)
    pos = np.asarray(present[y == 1].sum(axis=0)).ravel() + alpha
    neg = np.asarray(present[y == 0].sum(axis=0)).ravel() + alpha
    return (np.log(pos / pos.sum()) - np.log(neg / neg.sum())).astype(np.float32)


def _fit_binary(X: sp.csr_matrix, y: np.ndarray, cfg: TfidfLinear.Config,
                dual: bool | None = None) -> tuple[np.ndarray, float]:
    """One binary classifier on 0/1 ``y``: its (V,) weights on the features of ``X`` and its
    bias. With NB weighting it is trained on ``X * r`` and the ratio ``r`` is folded into the
    weights, so scoring stays one product with the shared features. ``dual`` chooses the
    SVM's problem (None: the dual where ``X`` has fewer rows than columns)."""
    r = _nb_ratio(X, y, cfg.nb_alpha) if cfg.weighting == "nb" else None
    Xw = X if r is None else sp.csr_matrix(X @ sp.diags(r.astype(np.float64)))
    if cfg.loss == "squared_hinge" and cfg.class_weight is None:
        coef, b = liblinear.fit_l2svm(Xw, y, float(cfg.C), cfg.tol, cfg.seed, dual)  # type: ignore[arg-type]
    else:
        clf = _make_classifier(cfg, dual).fit(Xw, y)
        coef, b = clf.coef_.ravel(), float(clf.intercept_[0])
    w = coef.astype(np.float32)
    return (w if r is None else w * r), b


def _fit_label_block(
    X: sp.csr_matrix, Yb: Any, cfg: TfidfLinear.Config
) -> tuple[sp.csr_matrix, np.ndarray]:
    """One binary classifier per column of ``Yb``; constant columns get a constant score."""
    X = sp.csr_matrix(X, dtype=np.float64)  # LIBLINEAR reads float64: convert once, not per label
    rows, bias = [], np.zeros(Yb.shape[1], dtype=np.float32)
    for j in range(Yb.shape[1]):
        col = Yb[:, [j]]
        y = (np.asarray(col.toarray() if sp.issparse(col) else col).ravel() != 0).astype(np.int8)
        n_pos = int(y.sum())
        if n_pos in (0, len(y)):
            rows.append(sp.csr_matrix((1, X.shape[1]), dtype=np.float32))
            bias[j] = CONSTANT_SCORE if n_pos else -CONSTANT_SCORE
            continue
        w, bias[j] = _fit_binary(X, y, cfg)
        rows.append(sp.csr_matrix(w[None, :]))
    return sp.vstack(rows, format="csr"), bias


def _fit_per_label(
    X: sp.csr_matrix, Y: Any, cfg: TfidfLinear.Config, on_labels: Callable[[int], None] | None = None
) -> tuple[sp.csr_matrix, np.ndarray]:
    """One binary classifier per column of ``Y``, in blocks of labels (in worker processes
    for large jobs); ``on_labels(k)`` after each block of k labels."""
    n_labels = Y.shape[1]
    serial = cfg.n_jobs == 1 or n_labels < 2 or X.nnz * n_labels < PARALLEL_MIN_WORK
    n_workers = 1 if serial else effective_n_jobs(cfg.n_jobs)
    size = int(np.clip(np.ceil(n_labels / (4 * n_workers)), 1, 256))
    starts = range(0, n_labels, size)
    if serial:
        blocks: Any = (_fit_label_block(X, Y[:, s : s + size], cfg) for s in starts)
    else:
        # processes, not threads: LIBLINEAR seeds one process-wide C random generator per
        # fit, which threads would share, and the model would depend on their timing
        blocks = Parallel(n_jobs=cfg.n_jobs, return_as="generator")(
            delayed(_fit_label_block)(X, Y[:, s : s + size], cfg) for s in starts)
    coefs, biases = [], []
    for coef, bias in blocks:
        coefs.append(coef)
        biases.append(bias)
        if on_labels is not None:
            on_labels(len(bias))
    return sp.vstack(coefs, format="csr"), np.concatenate(biases)


def _fit_tree(X: sp.csr_matrix, Y: Any, tree: LabelTree, cfg: TfidfLinear.Config,
              on_labels: Callable[[int], None] | None = None) -> NodeWeights:
    """The label tree's classifiers: one per child of every cluster, on the documents that
    reach the cluster (``on_labels`` counts the tree's labels as their clusters finish)."""
    assert cfg.tree is not None
    n_jobs = 1 if X.nnz * tree.num_nodes < PARALLEL_MIN_WORK else cfg.n_jobs
    is_label = tree.label >= 0

    def done(cluster: int) -> None:
        if on_labels is not None:
            on_labels(int(is_label[tree.children_of(cluster)].sum()))

    routing = None if cfg.tree.routing_tol is None else \
        functools.partial(_fit_binary, cfg=cfg.model_copy(update={"tol": cfg.tree.routing_tol}))
    # NB weighting normalises its ratios over all features: fit those on every column
    return linear_tree.fit_nodes(X, Y, tree, functools.partial(_fit_binary, cfg=cfg), cfg.tree.prune,
                                 n_jobs, on_cluster=done, compact=cfg.weighting == "tfidf", fit_routing=routing,
                                 train_beam=cfg.tree.train_beam, loss=cfg.loss, power=cfg.tree.path_power)


def _fit_multiclass(
    X: sp.csr_matrix, ids: np.ndarray, n_labels: int, cfg: TfidfLinear.Config,
    on_labels: Callable[[int], None] | None = None,
) -> tuple[sp.csr_matrix, np.ndarray]:
    """One model over the classes present; absent classes score ``-CONSTANT_SCORE``.

    Logistic regression on TF-IDF is the multinomial model; otherwise two classes are one
    binary classifier, and more are one-vs-rest binary classifiers, fitted in parallel."""
    present = np.unique(ids)
    W = np.zeros((n_labels, X.shape[1]), dtype=np.float32)
    b = np.full(n_labels, -CONSTANT_SCORE, dtype=np.float32)
    b[present] = 0.0
    if len(present) < 2:
        return sp.csr_matrix(W), b
    if cfg.loss == "logreg" and cfg.weighting == "tfidf":
        # liblinear is binary-only: lbfgs fits the multinomial model
        clf = LogisticRegression(C=cfg.C, class_weight=cfg.class_weight, max_iter=1000).fit(X, ids)
        coef, icpt = clf.coef_, clf.intercept_
    elif len(present) == 2:
        w, d = _fit_binary(X, (ids == present[1]).astype(np.int8), cfg)
        coef, icpt = w[None, :], np.array([d])
    else:
        onehot = (ids[:, None] == present[None, :]).astype(np.int8)  # (N, classes present)
        coef_sp, icpt = _fit_per_label(X, onehot, cfg, on_labels)
        coef = coef_sp.toarray()
        on_labels = None  # reported block by block
    if len(present) == 2:  # one binary score d -> (-d/2, d/2): softmax gives sigmoid(d)
        coef, icpt = np.vstack([-coef / 2, coef / 2]), np.concatenate([-icpt / 2, icpt / 2])
    W[present], b[present] = coef, icpt
    if on_labels is not None:
        on_labels(len(present))
    return sp.csr_matrix(W), b
