"""A label tree for the linear model: cost that grows with log(labels), not labels.

One-vs-rest fits one classifier per label on every document and scores every label for
every document. A label tree (as in Parabel, Bonsai, PECOS XR-Linear and LibMultiLabel's
tree model) clusters the labels hierarchically, fits at each cluster one classifier per
child on the documents that reach the cluster, and scores a document by beam search: only
the children of the few clusters on the beam are scored.

- :func:`build_tree`: balanced k-means over label representations (for instance the sum of
  the TF-IDF rows of each label's documents), by recursive balanced 2-means splits, so that
  the clusters of one node differ in size by at most one;
- :func:`fit_nodes`: one binary classifier per child of every cluster, fitted through joblib
  (whose backend a user may switch, e.g. to Dask or Ray, with ``joblib.parallel_config``);
- :class:`NodeWeights`: each cluster's children's weights on the features they use, looked up
  by (cluster, feature) key, so that scoring a document touches its own features only;
- :func:`beam_search`: the labels a document reaches, with the sum of its log-probabilities
  along the path;
- :func:`mean_probability`: several trees' scores as one (an ensemble over differently
  seeded clusterings).

Everything here is numpy and scipy; the classifier is passed in (``fit_binary``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed

CONSTANT_SCORE = 20.0  # score of a child that every (or no) document of its cluster has
KMEANS_ITERATIONS = 20


# ------------------------------------------------------------------------- the tree
@dataclass
class LabelTree:
    """Nodes in breadth-first order, node 0 the root. A node is a cluster (it has children)
    or a label (``label[node] >= 0``; no children). ``children[indptr[n]:indptr[n + 1]]``
    are node n's children."""

    indptr: np.ndarray  # (M + 1,) int64
    children: np.ndarray  # (M - 1,) int64
    label: np.ndarray  # (M,) int64, -1 for a cluster

    @property
    def num_nodes(self) -> int:
        return len(self.label)

    @property
    def max_children(self) -> int:
        """The most children of any cluster: the width of the weight matrix's rows."""
        return int(np.diff(self.indptr).max()) if self.num_nodes > 1 else 0

    @property
    def num_labels(self) -> int:
        return int((self.label >= 0).sum())

    def children_of(self, node: int) -> np.ndarray:
        return self.children[self.indptr[node] : self.indptr[node + 1]]

    @property
    def clusters(self) -> np.ndarray:
        """The nodes with children, in breadth-first order."""
        return np.flatnonzero(np.diff(self.indptr) > 0)

    @functools.cached_property
    def parent(self) -> np.ndarray:
        """(M,) each node's parent; -1 for the root."""
        parent = np.full(self.num_nodes, -1, dtype=np.int64)
        counts = np.diff(self.indptr)
        parent[self.children] = np.repeat(np.arange(self.num_nodes), counts)
        return parent

    @functools.cached_property
    def depth(self) -> np.ndarray:
        """(M,) each node's depth; 0 for the root (breadth-first: a parent comes before its children)."""
        depth = np.zeros(self.num_nodes, dtype=np.int64)
        for c in self.clusters:
            depth[self.children_of(int(c))] = depth[c] + 1
        return depth

    def labels_under(self) -> sp.csr_matrix:
        """(L, M) 0/1: label l is under node m (every node on its path, itself included)."""
        rows, cols = [], []
        label_nodes = np.flatnonzero(self.label >= 0)
        node = label_nodes.copy()
        while (node >= 0).any():
            keep = node >= 0
            rows.append(self.label[label_nodes[keep]])
            cols.append(node[keep])
            node = np.where(keep, self.parent[np.maximum(node, 0)], -1)
        r, c = np.concatenate(rows), np.concatenate(cols)
        return sp.csr_matrix((np.ones(len(r), dtype=np.float32), (r, c)), shape=(self.num_labels, self.num_nodes))

    def check(self) -> None:
        """Every label exactly once, every non-root node exactly one parent."""
        labels = np.sort(self.label[self.label >= 0])
        if not np.array_equal(labels, np.arange(len(labels))):
            raise ValueError("label tree: the labels are not each under the tree exactly once")
        if not np.array_equal(np.sort(self.children), np.arange(1, self.num_nodes)):
            raise ValueError("label tree: a node has no parent or several")


def balanced_split(reps: sp.csr_matrix, k: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Row indices of ``reps`` in ``k`` clusters whose sizes differ by at most one, by
    recursive balanced spherical 2-means (each half takes its share of the clusters)."""
    n = reps.shape[0]
    if k <= 1 or n <= 1:
        return [np.arange(n)]
    k1 = (k + 1) // 2
    q, r = divmod(n, k)
    n1 = k1 * q + min(r, k1)  # the items of the first k1 clusters, as balanced sizes give them
    first, second = _two_means(reps, n1, rng)
    return [first[p] for p in balanced_split(reps[first], k1, rng)] + \
           [second[p] for p in balanced_split(reps[second], k - k1, rng)]


def _two_means(reps: sp.csr_matrix, n1: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Split the rows into ``n1`` and the rest around two centroids (cosine similarity):
    the rows most similar to the first centroid relative to the second go to the first."""
    n = reps.shape[0]
    seeds = rng.choice(n, size=2, replace=False)
    centroids = reps[seeds].toarray()  # (2, V)
    first = np.zeros(n, dtype=bool)
    for _ in range(KMEANS_ITERATIONS):
        sims = np.asarray(reps @ centroids.T)  # (n, 2)
        order = np.argsort(sims[:, 1] - sims[:, 0], kind="stable")
        new = np.zeros(n, dtype=bool)
        new[order[:n1]] = True
        if np.array_equal(new, first):
            break
        first = new
        for c, member in enumerate((first, ~first)):
            centre = np.asarray(reps[member].sum(axis=0)).ravel()
            norm = np.linalg.norm(centre)
            centroids[c] = centre / norm if norm > 0 else centre
    return np.flatnonzero(first), np.flatnonzero(~first)


def build_tree(reps: sp.csr_matrix, branching: int, leaf_size: int, seed: int = 0) -> LabelTree:
    """A tree over the L rows of ``reps`` (L, V) (each label's representation, L2-normalised
    here): a node with at most ``leaf_size`` labels has them as its children; a larger one is
    split into ``min(branching, ceil(n / leaf_size))`` balanced clusters."""
    if branching < 2 or leaf_size < 1:
        raise ValueError(f"label tree: branching must be >= 2 and leaf_size >= 1, got {branching}, {leaf_size}")
    reps = sp.csr_matrix(reps, dtype=np.float64)
    norms = np.sqrt(np.asarray(reps.multiply(reps).sum(axis=1)).ravel())
    reps = sp.diags(np.where(norms > 0, 1.0 / np.maximum(norms, 1e-300), 0.0)) @ reps
    rng = np.random.default_rng(seed)
    # breadth-first: a queue of (labels of a cluster); label nodes get no queue entry
    queue: list[np.ndarray | None] = [np.arange(reps.shape[0])]
    counts: list[int] = []
    children: list[int] = []
    label: list[int] = [-1]
    head = 0
    while head < len(queue):
        members = queue[head]
        head += 1
        if members is None:  # a label node
            counts.append(0)
            continue
        if len(members) <= leaf_size:
            parts: list[np.ndarray] = [members[i : i + 1] for i in range(len(members))]
            is_label = True
        else:
            k = min(branching, -(-len(members) // leaf_size))
            parts = [members[p] for p in balanced_split(reps[members], k, rng)]
            is_label = False
        counts.append(len(parts))
        for part in parts:
            children.append(len(queue))
            queue.append(None if is_label else part)
            label.append(int(part[0]) if is_label else -1)
    tree = LabelTree(np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
                     np.asarray(children, dtype=np.int64), np.asarray(label, dtype=np.int64))
    tree.check()
    return tree


def label_representations(X: sp.csr_matrix, Y: Any) -> sp.csr_matrix:
    """(L, V): the sum of the feature rows of each label's documents."""
    return sp.csr_matrix(sp.csr_matrix(Y, dtype=np.float32).T @ X)


# --------------------------------------------------------------------- the weights
@dataclass
class NodeWeights:
    """The children's classifiers of every cluster, stored by (cluster, feature), sparse.

    For cluster c with k children, fitted on features ``support_c`` (those with a weight
    above the pruning threshold in some child), ``keys`` holds ``c * V + f`` for each f of
    ``support_c`` (sorted: clusters in order, then features), and row i of ``matrix`` (S, K),
    a CSR matrix, the children's non-zero weights on the feature of ``keys[i]``, by the child's
    position in its cluster (K: the most children of any cluster). Scoring a document against
    clusters is then one sparse product: its features, looked up by key, times ``matrix``.
    Only the weights that survive pruning are stored: a feature of a leaf cluster is
    usually weighted for a few of its hundred labels, so a dense row per feature held
    mostly zeros (4.8 GiB of weights at 10^5 generated labels, and more than the machine at
    10^6). ``bias`` is per node (the root's unused)."""

    keys: np.ndarray  # (S,) int64, sorted
    matrix: sp.csr_matrix  # (S, K) float32
    bias: np.ndarray  # (M,) float32
    num_features: int

    @classmethod
    def from_blocks(cls, tree: LabelTree, blocks: dict[int, tuple[np.ndarray, sp.csr_matrix, np.ndarray]],
                    num_features: int) -> NodeWeights:
        """``blocks[c] = (support (s,), weights (s, k) CSR, bias (k,))`` for the clusters c fitted
        (a cluster without a block gives its children no weights and a zero bias)."""
        width = tree.max_children
        keys, mats = [], []
        bias = np.zeros(tree.num_nodes, dtype=np.float32)
        for c in tree.clusters:
            if int(c) not in blocks:  # not fitted (yet): its children score 0
                continue
            support, weights, b = blocks[int(c)]
            keys.append(int(c) * num_features + support.astype(np.int64))
            mats.append(sp.csr_matrix(weights, dtype=np.float32))
            mats[-1].resize(len(support), width)
            bias[tree.children_of(int(c))] = b
        matrix = sp.vstack(mats, format="csr", dtype=np.float32) if mats else sp.csr_matrix((0, width), dtype=np.float32)
        return cls(np.concatenate(keys) if keys else np.zeros(0, dtype=np.int64), matrix, bias, num_features)

    @property
    def nbytes(self) -> int:
        """The bytes the weights hold (keys, the sparse matrix and the biases)."""
        m = self.matrix
        return self.keys.nbytes + m.data.nbytes + m.indices.nbytes + m.indptr.nbytes + self.bias.nbytes

    def dense(self, tree: LabelTree) -> np.ndarray:
        """(M, V) every node's weight vector (the root's zero): for tests and small trees."""
        W = np.zeros((tree.num_nodes, self.num_features), dtype=np.float32)
        cluster, feature = np.divmod(self.keys, self.num_features)
        coo = self.matrix.tocoo()
        child = tree.children[tree.indptr[cluster[coo.row]] + coo.col]
        W[child, feature[coo.row]] = coo.data
        return W


def child_scores(weights: NodeWeights, tree: LabelTree, X: sp.csr_matrix, docs: np.ndarray,
                 clusters: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw scores of the children of ``clusters[i]`` for document ``docs[i]`` (rows of ``X``),
    for every pair i. Returns (pair index, child node, score), one row per child."""
    n_feats = np.diff(X.indptr)[docs]
    pair = np.repeat(np.arange(len(docs)), n_feats)
    pos = np.repeat(X.indptr[docs] - (np.cumsum(n_feats) - n_feats), n_feats) + np.arange(len(pair))
    query = clusters[pair].astype(np.int64) * weights.num_features + X.indices[pos]
    # looked up in sorted order: the search walks the keys forward instead of jumping about
    # them (at 10^7 keys 5-9x faster than the queries in document order, sort included)
    order = np.argsort(query)
    found = np.empty(len(query), dtype=np.int64)
    found[order] = np.searchsorted(weights.keys, query[order])
    found = np.minimum(found, max(len(weights.keys) - 1, 0))
    hit = weights.keys[found] == query if len(weights.keys) else np.zeros(len(query), dtype=bool)
    # each hit (pair, weight row, feature value) times the non-zero weights of its row,
    # summed by (pair, child position): the product without building either matrix
    rows, x, at = found[hit], X.data[pos[hit]], pair[hit]
    W = weights.matrix
    lens = W.indptr[rows + 1] - W.indptr[rows]
    entry = np.repeat(W.indptr[rows] - (np.cumsum(lens) - lens), lens) + np.arange(int(lens.sum()))
    width = W.shape[1]
    dense = np.bincount(np.repeat(at, lens) * width + W.indices[entry], weights=np.repeat(x, lens) * W.data[entry],
                        minlength=len(docs) * width).reshape(len(docs), width)  # (pairs, K)
    k = np.diff(tree.indptr)[clusters]
    out_pair = np.repeat(np.arange(len(docs)), k)
    within = np.arange(int(k.sum())) - np.repeat(np.cumsum(k) - k, k)
    child = tree.children[tree.indptr[clusters][out_pair] + within]
    return out_pair, child, dense[out_pair, within] + weights.bias[child]


HINGE_POWER = 3  # the default of TreeConfig.path_power (PECOS's l3-hinge)


def log_prob(scores: np.ndarray, loss: str, power: float = HINGE_POWER) -> np.ndarray:
    """A score's log-probability surrogate: log sigmoid for logistic regression; for the
    L2-loss SVM, -max(0, 1 - s)^power (no cost above the margin, a steep one below it)."""
    if loss == "logreg":
        return -np.logaddexp(0.0, -scores)
    return -np.maximum(0.0, 1.0 - scores) ** power


def beam_search(weights: NodeWeights, tree: LabelTree, X: sp.csr_matrix, beam: int,
                loss: str, chunk: int = 1024, power: float = HINGE_POWER) -> sp.csr_matrix:
    """(N, L) sparse: each document's reached labels with the sum of the log-probabilities
    along their paths. At every depth the ``beam`` best clusters of a document are expanded;
    a beam as wide as the tree scores every label. Documents go ``chunk`` at a time."""
    X = sp.csr_matrix(X)
    parts = [_beam_chunk(weights, tree, X[s : s + chunk], beam, loss, power) for s in range(0, X.shape[0], chunk)]
    return sp.vstack(parts, format="csr") if parts else sp.csr_matrix((0, tree.num_labels))


@dataclass
class Frontier:
    """The clusters on the documents' beams at one depth: ``docs[i]`` has ``clusters[i]``
    with path score ``path[i]`` (grouped by document, in document order)."""

    docs: np.ndarray
    clusters: np.ndarray
    path: np.ndarray

    @classmethod
    def root(cls, n: int) -> Frontier:
        return cls(np.arange(n), np.zeros(n, dtype=np.int64), np.zeros(n))


def expand(weights: NodeWeights, tree: LabelTree, X: sp.csr_matrix, front: Frontier, beam: int, loss: str,
           power: float = HINGE_POWER) -> tuple[Frontier, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """One depth of the beam search: the children of the frontier's clusters scored, the
    ``beam`` best child clusters of each document as the next frontier, and the labels
    reached at this depth as (document, label, path score)."""
    pair, child, raw = child_scores(weights, tree, X, front.docs, front.clusters)
    doc, score = front.docs[pair], front.path[pair] + log_prob(raw, loss, power)
    lab = tree.label[child]
    done = lab >= 0
    reached = (doc[done], lab[done], score[done])
    doc, child, score = doc[~done], child[~done], score[~done]
    keep = _top_per_group(doc, score, beam)
    return Frontier(doc[keep], child[keep], score[keep]), reached


def _beam_chunk(weights: NodeWeights, tree: LabelTree, X: sp.csr_matrix, beam: int, loss: str,
                power: float) -> sp.csr_matrix:
    n = X.shape[0]
    front = Frontier.root(n)
    rows, cols, vals = [], [], []
    while len(front.docs):
        front, (doc, lab, score) = expand(weights, tree, X, front, beam, loss, power)
        rows.append(doc)
        cols.append(lab)
        vals.append(score)
    if not rows:  # no documents
        return sp.csr_matrix((n, tree.num_labels))
    r, c, v = (np.concatenate(x) for x in (rows, cols, vals))
    return sp.csr_matrix((v, (r, c)), shape=(n, tree.num_labels))


def _top_per_group(group: np.ndarray, score: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores within each group id, ordered by group."""
    order = np.lexsort((-score, group))
    g = group[order]
    first = np.concatenate([[0], np.flatnonzero(np.diff(g)) + 1]) if len(g) else np.zeros(0, dtype=np.int64)
    rank = np.arange(len(g)) - np.repeat(first, np.diff(np.concatenate([first, [len(g)]])))
    return order[rank < k]


def mean_probability(reached: list[sp.csr_matrix]) -> sp.csr_matrix:
    """An ensemble's scores: for each (document, label) the log of the mean over the trees
    of exp(path score), a tree whose beam missed the label counting 0 (as Parabel averages
    its trees' probabilities). Computed shifted by each entry's best score, so that steep
    path scores (exp(-1000)) do not vanish into log(0). One tree: its own scores."""
    if len(reached) == 1:
        return reached[0]
    shape = reached[0].shape
    coo = [sp.coo_matrix(r) for r in reached]
    row = np.concatenate([c.row for c in coo]).astype(np.int64)
    col = np.concatenate([c.col for c in coo]).astype(np.int64)
    val = np.concatenate([c.data for c in coo]).astype(np.float64)
    if not len(val):
        return sp.csr_matrix(shape)
    key = row * shape[1] + col
    order = np.argsort(key, kind="stable")
    key, val = key[order], val[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    best = np.maximum.reduceat(val, starts)
    total = np.add.reduceat(np.exp(val - np.repeat(best, np.diff(np.r_[starts, len(key)]))), starts)
    score = best + np.log(total) - np.log(len(reached))
    r, c = np.divmod(key[starts], shape[1])
    return sp.csr_matrix((score, (r, c)), shape=shape)


# --------------------------------------------------------------------- fitting
def node_documents(tree: LabelTree, Y: Any) -> sp.csc_matrix:
    """(N, M) 0/1: document i reaches node m (has a label under it); the root's column is
    every document."""
    reach = sp.csr_matrix(Y, dtype=np.float32) @ tree.labels_under()
    reach = sp.csc_matrix(reach, dtype=np.float32)
    reach.data[:] = 1.0
    return reach


def fit_cluster(X: sp.csr_matrix, docs: np.ndarray, members: list[np.ndarray],
                fit_binary: Callable[..., tuple[np.ndarray, float]],
                prune: float, compact: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One cluster: a classifier per child on the rows ``docs`` of ``X``, the child's
    positives being ``members[j]`` (sorted document ids, a subset of ``docs``). Returns the
    support (features with a weight above ``prune`` in some child), the (s, k) weights on it
    (sparse: a feature matters to few children) and the (k,) biases; a child that every (or
    no) document has gets a constant score.

    ``fit_binary(X, y, dual=...)`` fits one child; ``dual`` says whether there are fewer
    documents than features in all of ``X``. With ``compact``, the children are fitted on
    the columns the cluster's documents use, the only ones an L2-regularised linear model
    can give a non-zero weight to: the same weights, without the cost of every feature (at
    10^6 labels most clusters have a few hundred documents and 10^5 features)."""
    Xc = sp.csr_matrix(X[docs], dtype=np.float64)  # liblinear reads float64: convert once, not per child
    dual = len(docs) < X.shape[1]
    if compact:
        cols = np.unique(Xc.indices)
        Xc = sp.csr_matrix((Xc.data, np.searchsorted(cols, Xc.indices), Xc.indptr), shape=(len(docs), len(cols)))
    else:
        cols = np.arange(X.shape[1])
    k = len(members)
    W = np.zeros((k, len(cols)), dtype=np.float32)
    b = np.zeros(k, dtype=np.float32)
    for j, pos in enumerate(members):
        y = np.isin(docs, pos).astype(np.int8)
        n_pos = int(y.sum())
        if n_pos in (0, len(y)):
            b[j] = CONSTANT_SCORE if n_pos else -CONSTANT_SCORE
            continue
        W[j], b[j] = fit_binary(Xc, y, dual=dual)
    W[np.abs(W) <= prune] = 0.0
    support = np.flatnonzero((W != 0).any(axis=0))
    return cols[support].astype(np.int64), sp.csr_matrix(W[:, support].T), b


def fit_nodes(X: sp.csr_matrix, Y: Any, tree: LabelTree,
              fit_binary: Callable[..., tuple[np.ndarray, float]],
              prune: float, n_jobs: int,
              on_cluster: Callable[[int], None] | None = None, compact: bool = True,
              fit_routing: Callable[..., tuple[np.ndarray, float]] | None = None,
              train_beam: int | None = None, loss: str = "squared_hinge",
              power: float = HINGE_POWER) -> NodeWeights:
    """Every cluster's classifiers (:func:`fit_cluster`), each cluster one joblib task: the
    fits are independent, so any joblib backend runs them (processes by default; Dask or Ray
    under ``joblib.parallel_config``). ``on_cluster(c)`` after cluster c is fitted;
    ``fit_routing``, where given, fits the clusters whose children are clusters.

    A cluster is fitted on the documents with a label under it (teacher forcing). With
    ``train_beam``, also on those that the clusters above, already fitted, send to it with a
    beam that wide (matcher-aware negatives, as in PECOS): the documents it will see when
    scoring, and the hard negatives among them. The clusters are then fitted depth by depth,
    the training documents' beam advancing one depth between them."""
    reach = node_documents(tree, Y)
    n = X.shape[0]

    def docs_of(node: int) -> np.ndarray:
        if node == 0:
            return np.arange(n)
        return reach.indices[reach.indptr[node] : reach.indptr[node + 1]].astype(np.int64)

    def tasks(clusters: np.ndarray, routed: dict[int, np.ndarray]) -> Iterator[Any]:
        for c in clusters:
            kids = tree.children_of(int(c))
            members = [np.sort(docs_of(int(ch))) for ch in kids]
            docs = np.union1d(docs_of(int(c)), routed[int(c)]) if int(c) in routed else np.sort(docs_of(int(c)))
            routes = fit_routing is not None and tree.label[kids[0]] < 0  # its children are clusters
            yield delayed(fit_cluster)(X, docs, members, fit_routing if routes else fit_binary, prune, compact)

    def fit_level(clusters: np.ndarray, routed: dict[int, np.ndarray]) -> None:
        results = (fit_cluster(*t[1], **t[2]) for t in tasks(clusters, routed)) if n_jobs == 1 else \
            Parallel(n_jobs=n_jobs, return_as="generator")(tasks(clusters, routed))
        for c, block in zip(clusters, results, strict=True):
            blocks[int(c)] = block
            if on_cluster is not None:
                on_cluster(int(c))

    blocks: dict[int, tuple[np.ndarray, sp.csr_matrix, np.ndarray]] = {}
    if train_beam is None:
        fit_level(tree.clusters, {})
        return NodeWeights.from_blocks(tree, blocks, X.shape[1])
    depth = tree.depth
    levels = [tree.clusters[depth[tree.clusters] == d] for d in range(int(depth[tree.clusters].max()) + 1)]
    front = Frontier.root(n)
    for i, level in enumerate(levels):
        fit_level(level, _routed_documents(front))
        if i + 1 < len(levels):
            weights = NodeWeights.from_blocks(tree, blocks, X.shape[1])
            front = _advance(weights, tree, X, front, train_beam, loss, power)
    return NodeWeights.from_blocks(tree, blocks, X.shape[1])


def _routed_documents(front: Frontier) -> dict[int, np.ndarray]:
    """{cluster: the documents whose beam holds it}."""
    order = np.argsort(front.clusters, kind="stable")
    clusters, docs = front.clusters[order], front.docs[order]
    starts = np.flatnonzero(np.r_[True, clusters[1:] != clusters[:-1]]) if len(clusters) else np.zeros(0, dtype=int)
    return {int(c): d for c, d in zip(clusters[starts], np.split(docs, starts[1:]), strict=True)}


def _advance(weights: NodeWeights, tree: LabelTree, X: sp.csr_matrix, front: Frontier, beam: int, loss: str,
             power: float, chunk: int = 2048) -> Frontier:
    """The frontier one depth down, ``chunk`` documents at a time (bounds the temporaries)."""
    bounds = np.searchsorted(front.docs, np.arange(0, X.shape[0] + chunk, chunk))
    parts = [expand(weights, tree, X, Frontier(front.docs[lo:hi], front.clusters[lo:hi], front.path[lo:hi]),
                    beam, loss, power)[0]
             for lo, hi in zip(bounds[:-1], bounds[1:], strict=False) if hi > lo]
    if not parts:
        return Frontier(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))
    return Frontier(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("docs", "clusters", "path")))


# ----------------------------------------------------------------------- storage
TREE_ARRAYS = ("indptr", "children", "label")
NODE_ARRAYS = ("keys", "indptr", "slots", "values", "bias")


def _member(name: str, i: int) -> str:
    """The array name of tree ``i`` of an ensemble: the first tree's names are those of a
    single tree (``tree_label``), the others' carry the tree's index (``tree_label.1``)."""
    return name if i == 0 else f"{name}.{i}"


def tree_count(arrays: dict[str, np.ndarray]) -> int:
    """How many trees :func:`tree_arrays` wrote into ``arrays`` (at least one)."""
    n = 1
    while _member("tree_label", n) in arrays:
        n += 1
    return n


def tree_arrays(forest: list[tuple[LabelTree, NodeWeights]]) -> dict[str, np.ndarray]:
    """The trees and their weights as named arrays (``tree_*`` and ``node_*``, then
    ``tree_*.1``... for the further trees of an ensemble), for safetensors."""
    out: dict[str, np.ndarray] = {}
    for i, (tree, weights) in enumerate(forest):
        m = weights.matrix
        arrays = {**{f"tree_{name}": getattr(tree, name) for name in TREE_ARRAYS},
                  "node_keys": weights.keys, "node_indptr": m.indptr.astype(np.int64),
                  "node_slots": m.indices.astype(np.int32), "node_values": m.data.astype(np.float32),
                  "node_bias": weights.bias}
        out.update({_member(k, i): v for k, v in arrays.items()})
    return out


def tree_from_arrays(arrays: dict[str, np.ndarray], num_features: int) -> list[tuple[LabelTree, NodeWeights]]:
    """What :func:`tree_arrays` wrote, checked: one (tree, weights) per tree. Runs saved
    before the weights were sparse (``node_values`` (S, K) dense, no ``node_indptr``) load too."""
    forest = [_one_tree(arrays, num_features, i) for i in range(tree_count(arrays))]
    if any(t.num_labels != forest[0][0].num_labels for t, _ in forest):
        raise ValueError("label tree: the trees of the ensemble hold different numbers of labels")
    return forest


def _one_tree(arrays: dict[str, np.ndarray], num_features: int, i: int) -> tuple[LabelTree, NodeWeights]:
    def get(name: str) -> np.ndarray:
        return arrays[_member(name, i)]

    dense = _member("node_values", i) in arrays and np.ndim(get("node_values")) == 2
    wanted = [*(f"tree_{a}" for a in TREE_ARRAYS),
              *(f"node_{a}" for a in (("keys", "values", "bias") if dense else NODE_ARRAYS))]
    missing = [_member(n, i) for n in wanted if _member(n, i) not in arrays]
    if missing:
        raise ValueError(f"label tree: the model file lacks {', '.join(missing)}")
    tree = LabelTree(*(np.asarray(get(f"tree_{a}"), dtype=np.int64) for a in TREE_ARRAYS))
    tree.check()
    keys = np.asarray(get("node_keys"), dtype=np.int64)
    width = tree.max_children
    try:
        if dense:
            matrix = sp.csr_matrix(np.asarray(get("node_values"), dtype=np.float32))
        else:
            matrix = sp.csr_matrix((np.asarray(get("node_values"), dtype=np.float32),
                                    np.asarray(get("node_slots"), dtype=np.int32),
                                    np.asarray(get("node_indptr"), dtype=np.int64)), shape=(len(keys), width))
    except ValueError as err:
        raise ValueError(f"label tree: the node weights are malformed ({err})") from None
    weights = NodeWeights(keys, matrix, np.asarray(get("node_bias"), dtype=np.float32), num_features)
    if len(weights.bias) != tree.num_nodes or matrix.shape != (len(keys), width):
        raise ValueError("label tree: the node weights do not match the tree")
    return tree, weights
