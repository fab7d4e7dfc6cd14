"""The label tree of the linear model: its shape, its search and its storage."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from labelwise import linear_tree as lt
from labelwise.linear import UNREACHED, TfidfLinear, _fit_binary


def _data(n: int = 300, v: int = 200, num_labels: int = 45, seed: int = 0) -> tuple[sp.csr_matrix, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = sp.random(n, v, density=0.05, format="csr", random_state=seed, dtype=np.float32)
    Y = (rng.random((n, num_labels)) < 0.06).astype(np.int8)
    return X, Y


def _fitted(branching: int = 3, leaf_size: int = 4) -> tuple[sp.csr_matrix, lt.LabelTree, lt.NodeWeights]:
    X, Y = _data()
    tree = lt.build_tree(lt.label_representations(X, Y), branching, leaf_size, seed=0)
    cfg = TfidfLinear.Config(C=1.0)
    return X, tree, lt.fit_nodes(X, Y, tree, partial(_fit_binary, cfg=cfg), prune=0.0, n_jobs=1)


@pytest.mark.parametrize(("num_labels", "branching", "leaf_size"), [(45, 3, 4), (100, 16, 10), (7, 2, 1), (5, 4, 8)])
def test_the_tree_holds_every_label_once_in_clusters_balanced_within_one(num_labels, branching, leaf_size) -> None:
    X, Y = _data(num_labels=num_labels)
    tree = lt.build_tree(lt.label_representations(X, Y), branching, leaf_size, seed=1)
    assert sorted(tree.label[tree.label >= 0].tolist()) == list(range(num_labels))
    assert sorted(tree.children.tolist()) == list(range(1, tree.num_nodes))
    under = np.asarray(tree.labels_under().sum(axis=0)).ravel()  # labels under each node
    for c in tree.clusters:
        kids = tree.children_of(int(c))
        assert len(kids) <= max(branching, leaf_size)
        sizes = under[kids]
        assert sizes.max() - sizes.min() <= 1
        if under[c] <= leaf_size:
            assert (tree.label[kids] >= 0).all()  # a small cluster has its labels as children


def _exhaustive(X: sp.csr_matrix, tree: lt.LabelTree, weights: lt.NodeWeights, loss: str,
                power: float = lt.HINGE_POWER) -> np.ndarray:
    """Every label's path log-probability from the full (M, V) weights, node by node."""
    lp = lt.log_prob(np.asarray(X @ weights.dense(tree).T) + weights.bias, loss, power)
    path = np.zeros_like(lp)
    for node in range(1, tree.num_nodes):  # breadth-first: a parent before its children
        path[:, node] = path[:, tree.parent[node]] + lp[:, node]
    out = np.zeros((X.shape[0], tree.num_labels))
    is_label = tree.label >= 0
    out[:, tree.label[is_label]] = path[:, is_label]
    return out


@pytest.mark.parametrize("loss", ["squared_hinge", "logreg"])
def test_a_beam_as_wide_as_the_tree_scores_every_label_exactly(loss: str) -> None:
    X, tree, weights = _fitted()
    reached = lt.beam_search(weights, tree, X, beam=tree.num_nodes, loss=loss, chunk=64)
    assert reached.nnz == X.shape[0] * tree.num_labels
    np.testing.assert_allclose(reached.toarray(), _exhaustive(X, tree, weights, loss), atol=1e-4)


def test_the_path_power_is_the_one_the_search_scores_with() -> None:
    X, tree, weights = _fitted()
    reached = lt.beam_search(weights, tree, X, beam=tree.num_nodes, loss="squared_hinge", power=4)
    np.testing.assert_allclose(reached.toarray(), _exhaustive(X, tree, weights, "squared_hinge", 4), atol=1e-4)
    assert not np.allclose(reached.toarray(), _exhaustive(X, tree, weights, "squared_hinge", 3), atol=1e-4)


def test_a_narrow_beam_reaches_fewer_labels_with_their_exact_scores() -> None:
    X, tree, weights = _fitted()
    reached = lt.beam_search(weights, tree, X, beam=1, loss="squared_hinge")
    full = _exhaustive(X, tree, weights, "squared_hinge")
    assert 0 < reached.nnz < X.shape[0] * tree.num_labels
    rows = np.repeat(np.arange(X.shape[0]), np.diff(reached.indptr))
    np.testing.assert_allclose(reached.data, full[rows, reached.indices], atol=1e-4)
    # a beam of one follows one cluster down: a document's labels are one cluster's children
    label_node = np.full(tree.num_labels, -1)
    label_node[tree.label[tree.label >= 0]] = np.flatnonzero(tree.label >= 0)
    for i in range(X.shape[0]):
        labels = reached.indices[reached.indptr[i] : reached.indptr[i + 1]]
        parents = set(tree.parent[label_node[labels]].tolist())
        assert len(parents) == 1 and len(labels) == len(tree.children_of(parents.pop()))


def test_pruning_drops_small_weights_and_keeps_the_support_small() -> None:
    X, Y = _data()
    tree = lt.build_tree(lt.label_representations(X, Y), 3, 4, seed=0)
    fit = partial(_fit_binary, cfg=TfidfLinear.Config(C=1.0))
    full = lt.fit_nodes(X, Y, tree, fit, prune=0.0, n_jobs=1)
    pruned = lt.fit_nodes(X, Y, tree, fit, prune=0.1, n_jobs=1)
    assert len(pruned.keys) < len(full.keys)
    assert np.all(np.abs(pruned.matrix.data) > 0.1)
    assert pruned.matrix.nnz < full.matrix.nnz


def _texts(seed: int = 0, n: int = 240) -> tuple[list[str], np.ndarray]:
    """Documents whose labels are spelled out by their words (label j: word wj), plus noise."""
    rng = np.random.default_rng(seed)
    num_labels = 30
    texts, Y = [], np.zeros((n, num_labels), dtype=np.int8)
    for i in range(n):
        labels = rng.choice(num_labels, size=rng.integers(1, 4), replace=False)
        Y[i, labels] = 1
        words = [f"w{j}" for j in labels for _ in range(2)] + [f"noise{k}" for k in rng.integers(0, 50, 6)]
        texts.append(" ".join(rng.permutation(words)))
    return texts, Y


def test_tfidf_linear_with_a_tree_ranks_like_one_vs_rest_and_round_trips(tmp_path: Path) -> None:
    texts, Y = _texts()
    tree_cfg = {"branching": 4, "leaf_size": 5, "beam": 4, "prune": 0.0}
    tree = TfidfLinear(C=1.0, ngram_range=(1, 1), min_df=1, n_jobs=1, tree=tree_cfg).fit(texts[:200], Y[:200], "extreme")
    ovr = TfidfLinear(C=1.0, ngram_range=(1, 1), min_df=1, n_jobs=1).fit(texts[:200], Y[:200], "extreme")
    test, gold = texts[200:], Y[200:]
    s_tree, s_ovr = tree.decision_function(test), ovr.decision_function(test)
    assert s_tree.shape == s_ovr.shape == gold.shape
    p1 = lambda s: float(gold[np.arange(len(gold)), s.argmax(1)].mean())  # noqa: E731
    assert p1(s_tree) >= 0.95 and p1(s_ovr) >= 0.95
    assert (s_tree == UNREACHED).any()  # a beam of 4 does not reach every label
    tree.save(tmp_path / "m")
    again = TfidfLinear.load(tmp_path / "m")
    np.testing.assert_array_equal(again.decision_function(test), s_tree)
    assert again.tree_ is not None and again.coef_ is None


def test_a_tree_is_for_label_sets_multiclass_stays_one_model() -> None:
    texts, Y = _texts()
    onehot = np.eye(3, dtype=np.int8)[Y[:, :3].argmax(1)]
    clf = TfidfLinear(C=1.0, min_df=1, n_jobs=1, tree={"branching": 2, "leaf_size": 1}).fit(texts, onehot, "multiclass")
    assert clf.tree_ is None and clf.coef_ is not None


def test_tree_fits_run_on_a_dask_cluster() -> None:
    """The clusters' fits are joblib tasks: under a local two-worker Dask cluster they give
    the same weights as in one process."""
    distributed = pytest.importorskip("dask.distributed")
    import joblib

    X, Y = _data()
    tree = lt.build_tree(lt.label_representations(X, Y), 3, 4, seed=0)
    fit = partial(_fit_binary, cfg=TfidfLinear.Config(C=1.0))
    local = lt.fit_nodes(X, Y, tree, fit, prune=0.0, n_jobs=1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster), joblib.parallel_config(backend="dask"):
        remote = lt.fit_nodes(X, Y, tree, fit, prune=0.0, n_jobs=-1)
    np.testing.assert_array_equal(remote.keys, local.keys)
    np.testing.assert_allclose(remote.matrix.toarray(), local.matrix.toarray(), atol=1e-6)


def test_a_list_of_C_is_searched_for_the_tree_too() -> None:
    texts, Y = _texts()
    clf = TfidfLinear(C=[0.25, 1.0], min_df=1, n_jobs=1, tree={"branching": 3, "leaf_size": 6}).fit(texts, Y, "extreme")
    assert set(clf.C_search_) == {0.25, 1.0} and clf.C_ in clf.C_search_ and clf.nodes_ is not None


def test_a_tree_run_trains_saves_and_predicts_through_the_api(tmp_path: Path) -> None:
    """``model.linear.tree`` in a config: the run directory holds the tree, and the loaded
    run predicts and evaluates like the one that trained."""
    from labelwise import TextClassifier

    texts, Y = _texts(n=300)
    labels = [[f"l{j}" for j in np.flatnonzero(row)] for row in Y]
    cfg = {"task": "extreme", "model": {"type": "linear", "linear": {
        "min_df": 1, "n_jobs": 1, "C": 1.0, "tree": {"branching": 4, "leaf_size": 5, "beam": 3}}},
        "train": {"progress": False}}
    clf = TextClassifier(cfg).fit(texts[:240], labels[:240])
    clf.save(tmp_path / "run")
    again = TextClassifier.load(tmp_path / "run")
    np.testing.assert_array_equal(again.predict_proba(texts[240:]), clf.predict_proba(texts[240:]))
    metrics = again.evaluate(texts[240:], labels[240:])
    assert metrics["p@1"] >= 0.9


@pytest.mark.parametrize("loss", ["squared_hinge", "logreg"])
def test_fitting_a_cluster_on_its_own_columns_gives_the_weights_of_every_column(loss: str) -> None:
    X, Y = _data(n=300, v=400)  # sparse enough that a cluster's documents miss some columns
    X = sp.csr_matrix(X)
    tree = lt.build_tree(lt.label_representations(X, Y), 3, 4, seed=0)
    fit = partial(_fit_binary, cfg=TfidfLinear.Config(C=1.0, loss=loss))
    compact = lt.fit_nodes(X, Y, tree, fit, prune=0.0, n_jobs=1, compact=True)
    every = lt.fit_nodes(X, Y, tree, fit, prune=0.0, n_jobs=1, compact=False)
    np.testing.assert_allclose(compact.dense(tree), every.dense(tree), rtol=0, atol=1e-6)
    np.testing.assert_allclose(compact.bias, every.bias, rtol=0, atol=1e-6)
    assert len(compact.keys) <= len(every.keys)


def test_routing_clusters_are_fitted_by_their_own_classifier() -> None:
    X, Y = _data()
    tree = lt.build_tree(lt.label_representations(X, Y), 3, 4, seed=0)
    fit = partial(_fit_binary, cfg=TfidfLinear.Config(C=1.0))
    calls: list[int] = []

    def routing(Xc, y, dual=None):
        calls.append(Xc.shape[0])
        return fit(Xc, y, dual=dual)

    lt.fit_nodes(X, Y, tree, fit, prune=0.0, n_jobs=1, fit_routing=routing)
    routers = [c for c in tree.clusters if tree.label[tree.children_of(int(c))[0]] < 0]
    assert routers and len(calls) == sum(len(tree.children_of(int(c))) for c in routers)
    assert X.shape[0] in calls  # the root routes, on every document


def test_weights_round_trip_sparse_and_runs_saved_dense_still_load() -> None:
    """The weights are saved as a sparse matrix; a run saved when each (cluster, feature)
    row was dense ((S, K) ``node_values``, no ``node_indptr``) loads to the same weights."""
    X, tree, weights = _fitted()
    arrays = lt.tree_arrays([(tree, weights)])
    [(_, back)] = lt.tree_from_arrays(arrays, weights.num_features)
    np.testing.assert_array_equal(back.dense(tree), weights.dense(tree))
    old = {k: v for k, v in arrays.items() if k not in ("node_indptr", "node_slots")}
    old["node_values"] = weights.matrix.toarray()
    [(_, legacy)] = lt.tree_from_arrays(old, weights.num_features)
    np.testing.assert_array_equal(legacy.dense(tree), weights.dense(tree))
    np.testing.assert_array_equal(lt.beam_search(legacy, tree, X, 2, "squared_hinge").toarray(),
                                  lt.beam_search(weights, tree, X, 2, "squared_hinge").toarray())
    with pytest.raises(ValueError, match="lacks node_indptr"):
        lt.tree_from_arrays({k: v for k, v in arrays.items() if k != "node_indptr"}, weights.num_features)


def _docs_per_fit(X, Y, tree, **kwargs) -> tuple[dict[int, int], lt.NodeWeights]:
    """{cluster: the documents its classifiers were fitted on}, and the weights, from fit_nodes
    (which fits the clusters in breadth-first order, depth by depth or not)."""
    fit = partial(_fit_binary, cfg=TfidfLinear.Config(C=1.0))
    sizes: list[int] = []
    real = lt.fit_cluster

    def spy(X_, docs, *args, **kw):
        sizes.append(len(docs))
        return real(X_, docs, *args, **kw)

    lt.fit_cluster = spy
    try:
        weights = lt.fit_nodes(X, Y, tree, fit, prune=0.0, n_jobs=1, **kwargs)
    finally:
        lt.fit_cluster = real
    return dict(zip(tree.clusters.tolist(), sizes, strict=True)), weights


def _positives(tree: lt.LabelTree, Y: np.ndarray, cluster: int) -> list[list[int]]:
    reach = lt.node_documents(tree, Y)
    return [reach[:, int(k)].nonzero()[0].tolist() for k in tree.children_of(cluster)]


def test_matcher_aware_negatives_add_the_documents_the_beam_sends_to_a_cluster() -> None:
    """With ``train_beam`` a cluster is fitted on its documents and on those the fitted clusters
    above route to it: never fewer, somewhere more; a beam as wide as the tree routes every
    document everywhere, so each cluster is fitted as if on every document."""
    X, Y = _data()
    tree = lt.build_tree(lt.label_representations(X, Y), 3, 4, seed=0)
    assert tree.depth.max() >= 3  # clusters under clusters: the beam has somewhere to send documents
    forced, _ = _docs_per_fit(X, Y, tree)
    routed, _ = _docs_per_fit(X, Y, tree, train_beam=1)
    assert forced.keys() == routed.keys() == set(tree.clusters.tolist())
    assert all(routed[c] >= forced[c] for c in forced)
    assert any(routed[c] > forced[c] for c in forced)
    wide, weights = _docs_per_fit(X, Y, tree, train_beam=tree.num_nodes)
    assert set(wide.values()) == {X.shape[0]}
    fit = partial(_fit_binary, cfg=TfidfLinear.Config(C=1.0))
    every = np.arange(X.shape[0])
    blocks = {int(c): lt.fit_cluster(X, every, [np.array(p) for p in _positives(tree, Y, int(c))], fit, 0.0)
              for c in tree.clusters}
    np.testing.assert_allclose(weights.dense(tree), lt.NodeWeights.from_blocks(tree, blocks, X.shape[1]).dense(tree),
                               rtol=0, atol=1e-6)


def test_a_tree_with_matcher_aware_negatives_trains_saves_and_loads(tmp_path: Path) -> None:
    texts = [f"topic{i % 9} word{i % 5} filler{i % 3} common" for i in range(120)]
    Y = np.zeros((120, 9), dtype=np.int8)
    Y[np.arange(120), np.arange(120) % 9] = 1
    Y[np.arange(120), (np.arange(120) + 1) % 9] = 1
    cfg = TfidfLinear.Config(C=1.0, n_jobs=1, ngram_range=(1, 1), min_df=1,
                             tree={"branching": 2, "leaf_size": 2, "beam": 2, "train_beam": 2, "path_power": 4})
    clf = TfidfLinear(cfg).fit(texts, Y, task="extreme")
    scores = clf.decision_function(texts[:9])
    assert Y[np.arange(9), scores.argmax(1)].mean() >= 0.5  # the best label is one of the text's
    clf.save(tmp_path / "m")
    back = TfidfLinear.load(tmp_path / "m")
    assert back.config.tree.train_beam == 2 and back.config.tree.path_power == 4
    np.testing.assert_array_equal(back.decision_function(texts[:9]), scores)


def test_an_ensembles_score_is_the_log_of_its_trees_mean_probability() -> None:
    """Per (document, label): log((exp(a) + exp(b)) / 2) where both trees reached it,
    log(exp(a) / 2) where one did, nothing where none did; steep scores do not vanish."""
    a = sp.csr_matrix(np.array([[-1.0, 0.0, -2000.0], [0.0, -0.5, 0.0]]))
    b = sp.csr_matrix(np.array([[-3.0, -4.0, -2001.0], [0.0, 0.0, 0.0]]))
    out = lt.mean_probability([a, b]).toarray()
    expected = np.array([[np.log((np.exp(-1) + np.exp(-3)) / 2), np.log(np.exp(-4) / 2),
                          -2000 + np.log((1 + np.exp(-1)) / 2)],
                         [0.0, np.log(np.exp(-0.5) / 2), 0.0]])
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    assert lt.mean_probability([a]) is a


def test_an_ensemble_of_trees_differs_from_one_tree_and_round_trips(tmp_path: Path) -> None:
    """``tree.trees: 3`` fits three differently clustered trees (the first the single tree's
    own), scores with their mean probability, saves as format 4 and loads to the same scores."""
    texts, Y = _texts(n=300)
    cfg = {"branching": 3, "leaf_size": 4, "beam": 2, "prune": 0.0}
    one = TfidfLinear(C=1.0, min_df=1, n_jobs=1, tree=cfg).fit(texts[:240], Y[:240], "extreme")
    three = TfidfLinear(C=1.0, min_df=1, n_jobs=1, tree={**cfg, "trees": 3}).fit(texts[:240], Y[:240], "extreme")
    assert len(three.trees_) == len(three.nodes_) == 3
    np.testing.assert_array_equal(three.trees_[0].label, one.trees_[0].label)
    assert not np.array_equal(three.trees_[1].label, three.trees_[0].label)  # another clustering
    test = texts[240:]
    s_one, s_three = one.decision_function(test), three.decision_function(test)
    assert ((s_three > UNREACHED).sum(axis=1) >= (s_one > UNREACHED).sum(axis=1)).all()  # the union of the beams
    assert (s_three > UNREACHED).sum() > (s_one > UNREACHED).sum()
    three.save(tmp_path / "m")
    import json
    assert json.loads((tmp_path / "m" / "linear.json").read_text())["format_version"] == 4
    one.save(tmp_path / "one")
    assert json.loads((tmp_path / "one" / "linear.json").read_text())["format_version"] == 3
    again = TfidfLinear.load(tmp_path / "m")
    assert len(again.trees_) == 3
    np.testing.assert_array_equal(again.decision_function(test), s_three)
