"""Tests of labelwise.metrics: against scikit-learn, hand-worked cases, streaming, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    hamming_loss,
    ndcg_score,
    precision_score,
    recall_score,
)

from labelwise.metrics import (
    MetricCollection,
    assign_buckets,
    create_metrics,
    inverse_propensity,
    per_label_f1,
    precision_at_k,
    psp_at_k,
    top_k_indices,
)
from labelwise.registry import METRICS

DECISION = [
    "accuracy",
    "hamming_loss",
    "micro_precision",
    "micro_recall",
    "micro_f1",
    "macro_precision",
    "macro_recall",
    "macro_f1",
]
RANKING = ["p@1", "p@3", "p@5", "r@3", "ndcg@1", "ndcg@5", "rprec@3", "psp@3"]


def random_multilabel(n: int = 120, num_labels: int = 15, seed: int = 0):
    """Scores, thresholded preds and targets; the last two labels are never true nor predicted,
    a few documents have no true label."""
    rng = np.random.default_rng(seed)
    scores = rng.random((n, num_labels))
    targets = rng.random((n, num_labels)) < 0.25
    targets[:, -2:] = False
    targets[:5] = False
    preds = scores > 0.6
    preds[:, -2:] = False
    return scores, preds, targets


def run(names, scores, preds, targets, batches=(None,), **kwargs):
    num_labels = targets.shape[1]
    metrics = create_metrics(names, num_labels, **kwargs)
    bounds = [0, *[b for b in batches if b is not None], len(targets)]
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        metrics.update(scores[lo:hi], preds[lo:hi], targets[lo:hi])
    return metrics.compute()


def train_stats(num_labels: int, seed: int = 1):
    counts = np.random.default_rng(seed).integers(0, 2000, num_labels)
    return {"train_label_counts": counts, "num_train_docs": 10_000}


def test_decision_metrics_match_sklearn():
    scores, preds, targets = random_multilabel()
    got = run(DECISION, scores, preds, targets)
    kw = {"zero_division": 0}
    want = {
        "accuracy": accuracy_score(targets, preds),
        "hamming_loss": hamming_loss(targets, preds),
        "micro_precision": precision_score(targets, preds, average="micro", **kw),
        "micro_recall": recall_score(targets, preds, average="micro", **kw),
        "micro_f1": f1_score(targets, preds, average="micro", **kw),
        "macro_precision": precision_score(targets, preds, average="macro", **kw),
        "macro_recall": recall_score(targets, preds, average="macro", **kw),
        "macro_f1": f1_score(targets, preds, average="macro", **kw),
    }
    assert got.keys() == want.keys()
    for name, value in want.items():
        assert got[name] == pytest.approx(value, abs=1e-12), name


def test_macro_over_present_labels_matches_sklearn_labels_argument():
    scores, preds, targets = random_multilabel(seed=3)
    present = np.flatnonzero(targets.any(axis=0))
    assert len(present) < targets.shape[1]
    params = {"macro_f1": {"labels": "present"}, "macro_recall": {"labels": "present"}}
    got = run(["macro_f1", "macro_recall"], scores, preds, targets, params=params)
    kw = {"labels": present, "average": "macro", "zero_division": 0}
    assert got["macro_f1"] == pytest.approx(f1_score(targets, preds, **kw))
    assert got["macro_recall"] == pytest.approx(recall_score(targets, preds, **kw))


def test_per_label_f1_and_support():
    scores, preds, targets = random_multilabel(seed=4)
    f1, support = per_label_f1(preds, targets)
    want = f1_score(targets, preds, average=None, zero_division=0)
    np.testing.assert_allclose(f1, want)
    np.testing.assert_array_equal(support, targets.sum(axis=0))
    metrics = create_metrics(["micro_f1"], targets.shape[1])
    metrics.update(scores[:50], preds[:50], targets[:50])
    metrics.update(scores[50:], preds[50:], targets[50:])
    np.testing.assert_allclose(metrics.per_label_f1()[0], want)


def test_streaming_uneven_batches_equals_one_batch():
    scores, preds, targets = random_multilabel(n=101, seed=5)
    names = DECISION + RANKING + ["bucket_f1"]
    stats = train_stats(targets.shape[1])
    whole = run(names, scores, preds, targets, **stats)
    parts = run(names, scores, preds, targets, batches=(1, 7, 40, 41, 99), **stats)
    assert whole.keys() == parts.keys()
    for name in whole:
        assert parts[name] == pytest.approx(whole[name], abs=1e-12, nan_ok=True), name


def test_document_order_invariance():
    scores, preds, targets = random_multilabel(n=90, seed=6)
    names = DECISION + RANKING + ["bucket_f1"]
    stats = train_stats(targets.shape[1])
    perm = np.random.default_rng(0).permutation(len(targets))
    a = run(names, scores, preds, targets, batches=(30,), **stats)
    b = run(names, scores[perm], preds[perm], targets[perm], batches=(45,), **stats)
    for name in a:
        assert b[name] == pytest.approx(a[name], abs=1e-12, nan_ok=True), name


def test_reset_forgets_state():
    scores, preds, targets = random_multilabel(seed=7)
    metrics = create_metrics(["micro_f1", "p@3"], targets.shape[1])
    metrics.update(scores, preds, targets)
    first = metrics.compute()
    metrics.update(scores, ~preds, targets)
    metrics.reset()
    metrics.update(scores, preds, targets)
    assert metrics.compute() == first


def test_multiclass_accuracy_equals_micro_f1():
    rng = np.random.default_rng(8)
    n, num_classes = 200, 6
    scores = rng.random((n, num_classes))
    y = rng.integers(0, num_classes, n)
    targets = np.eye(num_classes, dtype=bool)[y]
    preds = np.eye(num_classes, dtype=bool)[scores.argmax(axis=1)]
    got = run(["accuracy", "micro_f1", "p@1"], scores, preds, targets)
    acc = accuracy_score(y, scores.argmax(axis=1))
    assert got["accuracy"] == pytest.approx(acc)
    assert got["micro_f1"] == pytest.approx(acc)
    assert got["p@1"] == pytest.approx(acc)


def test_hand_worked_ranking_case():
    # doc 0: true {0, 2}; ranking 1, 0, 3, 2, 4.  doc 1: no true label.
    scores = np.array([[0.8, 0.9, 0.1, 0.3, 0.0], [0.5, 0.4, 0.3, 0.2, 0.1]])
    targets = np.array([[1, 0, 1, 0, 0], [0, 0, 0, 0, 0]], dtype=bool)
    preds = np.zeros_like(targets)
    got = run(["p@1", "p@3", "r@3", "rprec@3", "ndcg@3", "r@5", "ndcg@5"], scores, preds, targets)
    d = [1 / math.log2(i + 2) for i in range(5)]
    # the empty document counts with 0 in the mean over 2 documents
    assert got["p@1"] == pytest.approx(0.0)
    assert got["p@3"] == pytest.approx((1 / 3) / 2)
    assert got["r@3"] == pytest.approx((1 / 2) / 2)
    assert got["rprec@3"] == pytest.approx((1 / 2) / 2)
    assert got["ndcg@3"] == pytest.approx((d[1] / (d[0] + d[1])) / 2)
    assert got["r@5"] == pytest.approx(1.0 / 2)
    assert got["ndcg@5"] == pytest.approx(((d[1] + d[3]) / (d[0] + d[1])) / 2)
    skip = run(["p@3"], scores, preds, targets, params={"p@k": {"skip_empty": True}})
    assert skip["p@3"] == pytest.approx(1 / 3)


def test_rprec_uses_min_of_k_and_true_count():
    scores = np.array([[0.9, 0.8, 0.7, 0.1]])
    targets = np.array([[1, 1, 1, 1]], dtype=bool)
    got = run(["rprec@2", "r@2", "p@2"], scores, np.zeros_like(targets), targets)
    assert got == pytest.approx({"rprec@2": 1.0, "r@2": 0.5, "p@2": 1.0})


def test_ndcg_matches_sklearn_binary_relevance():
    scores, preds, targets = random_multilabel(n=60, num_labels=12, seed=9)
    for k in (1, 3, 5, 12):
        got = run([f"ndcg@{k}"], scores, preds, targets)[f"ndcg@{k}"]
        assert got == pytest.approx(ndcg_score(targets.astype(int), scores, k=k)), k


def test_precision_at_k_bounded_and_k_above_num_labels():
    scores, preds, targets = random_multilabel(n=40, num_labels=4, seed=10)
    targets[:] = True
    got = run(["p@1", "p@4", "p@10"], scores, preds, targets)
    assert got["p@1"] == pytest.approx(1.0)
    assert got["p@4"] == pytest.approx(1.0)
    assert got["p@10"] == pytest.approx(0.4)  # only 4 labels exist; denominator stays k
    assert all(0.0 <= v <= 1.0 for v in got.values())
    assert (precision_at_k(scores, targets, 3) <= 1).all()


def test_top_k_matches_full_sort_for_many_labels():
    rng = np.random.default_rng(11)
    n, num_labels, k = 300, 4271, 5
    scores = rng.standard_normal((n, num_labels))
    idx = top_k_indices(scores, k)
    np.testing.assert_array_equal(idx, np.argsort(-scores, axis=1)[:, :k])
    targets = rng.random((n, num_labels)) < 0.002
    targets[np.arange(n), idx[:, 0]] = True
    metrics = create_metrics(["p@1", "p@5"], num_labels)
    for lo in range(0, n, 128):
        metrics.update(scores[lo : lo + 128], None, targets[lo : lo + 128])
    want = np.take_along_axis(targets, idx, axis=1).sum(axis=1) / k
    assert metrics.compute() == pytest.approx({"p@1": 1.0, "p@5": want.mean()})


def test_psp_hand_worked_and_normalised():
    counts = np.array([100, 10, 1, 0])
    n_train, a, b = 1000, 0.55, 1.5
    c = (math.log(n_train) - 1) * (b + 1) ** a
    inv = [1 + c * (x + b) ** (-a) for x in counts]
    np.testing.assert_allclose(inverse_propensity(counts, n_train), inv)
    scores = np.array([[0.9, 0.8, 0.1, 0.0], [0.0, 0.0, 1.0, 0.5]])
    targets = np.array([[1, 0, 1, 0], [0, 0, 0, 1]], dtype=bool)
    # doc 0: top-2 = {0, 1}, hit 0; best = {0, 2}.  doc 1: top-2 = {2, 3}, hit 3; best = {3}.
    psp, best = psp_at_k(scores, targets, 2, np.array(inv))
    np.testing.assert_allclose(psp, [inv[0] / 2, inv[3] / 2])
    np.testing.assert_allclose(best, [(inv[0] + inv[2]) / 2, inv[3] / 2])
    stats = {"train_label_counts": counts, "num_train_docs": n_train}
    got = run(["psp@2"], scores, np.zeros_like(targets), targets, **stats)
    assert got["psp@2"] == pytest.approx((inv[0] + inv[3]) / (inv[0] + inv[2] + inv[3]))
    raw = run(["psp@2"], scores, targets, targets, params={"psp@2": {"normalize": False}}, **stats)
    assert raw["psp@2"] == pytest.approx((inv[0] + inv[3]) / 4)
    perfect = run(["psp@2"], targets.astype(float), targets, targets, **stats)
    assert perfect["psp@2"] == pytest.approx(1.0)


@pytest.mark.parametrize("mode", ["threshold", "quantile"])
def test_buckets_partition_labels(mode):
    counts = np.array([0, 3, 49, 50, 51, 499, 500, 5000, 7, 7, 7])
    buckets = assign_buckets(counts, mode=mode)
    stacked = np.stack([buckets[b] for b in ("head", "medium", "tail")])
    np.testing.assert_array_equal(stacked.sum(axis=0), 1)
    if mode == "threshold":
        np.testing.assert_array_equal(np.flatnonzero(buckets["tail"]), [0, 1, 2, 8, 9, 10])
        np.testing.assert_array_equal(np.flatnonzero(buckets["head"]), [6, 7])
    else:
        assert sorted(int(m.sum()) for m in buckets.values()) == [3, 4, 4]
        assert counts[buckets["tail"]].max() <= counts[buckets["medium"]].min()
        assert counts[buckets["medium"]].max() <= counts[buckets["head"]].min()


def test_bucket_f1_matches_sklearn_on_each_bucket():
    scores, preds, targets = random_multilabel(n=150, num_labels=12, seed=12)
    counts = np.array([0, 10, 20, 60, 70, 80, 90, 600, 700, 800, 5, 900])
    params = {"bucket_f1": {"micro": True}}
    got = run(["f1_tail"], scores, preds, targets, train_label_counts=counts, params=params)
    for name, mask in assign_buckets(counts).items():
        cols = np.flatnonzero(mask)
        want = f1_score(targets[:, cols], preds[:, cols], average="macro", zero_division=0)
        assert got[f"f1_{name}"] == pytest.approx(want), name
        want = f1_score(targets[:, cols], preds[:, cols], average="micro", zero_division=0)
        assert got[f"micro_f1_{name}"] == pytest.approx(want), name
    empty = run(["bucket_f1"], scores, preds, targets, train_label_counts=np.zeros(12))
    assert math.isnan(empty["f1_head"]) and not math.isnan(empty["f1_tail"])


def test_registry_holds_families():
    for name in [*DECISION, "p@k", "r@k", "ndcg@k", "psp@k", "rprec@k", "bucket_f1"]:
        assert name in METRICS


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("micro_f", "micro_f1"),
        ("pp@5", "'p@5'"),
        ("p@x", "positive integer"),
        ("p@0", "positive integer"),
        ("ndgc@10", "'ndcg@10'"),
    ],
)
def test_unknown_names_suggest_close_matches(name, fragment):
    with pytest.raises(ValueError, match=fragment):
        create_metrics([name], 5)


def test_training_statistics_required():
    with pytest.raises(ValueError, match="train_label_counts"):
        create_metrics(["psp@5"], 5)
    with pytest.raises(ValueError, match="num_train_docs"):
        create_metrics(["psp@5"], 5, train_label_counts=np.ones(5))
    with pytest.raises(ValueError, match="train_label_counts"):
        create_metrics(["f1_tail"], 5)
    with pytest.raises(ValueError, match=r"\(5,\)"):
        create_metrics(["f1_tail"], 5, train_label_counts=np.ones(4))


def test_bad_options_rejected():
    with pytest.raises(ValueError, match="unknown key 'lables'"):
        create_metrics(["macro_f1"], 5, params={"macro_f1": {"lables": "present"}})
    with pytest.raises(ValueError, match="not requested"):
        create_metrics(["macro_f1"], 5, params={"micro_f1": {}})


def test_input_validation_names_shapes():
    metrics = create_metrics(["micro_f1", "p@1"], 4)
    s, t = np.zeros((3, 4)), np.zeros((3, 4), dtype=bool)
    with pytest.raises(ValueError, match=r"\(3, 5\)"):
        metrics.update(np.zeros((3, 5)), t, t)
    with pytest.raises(ValueError, match=r"\(2, 4\)"):
        metrics.update(s, t[:2], t)
    with pytest.raises(ValueError, match=r"\(batch, 4\)"):
        metrics.update(s, t, np.zeros((3, 3), dtype=bool))
    with pytest.raises(ValueError, match="0/1"):
        metrics.update(s, np.full((3, 4), 0.7), t)
    with pytest.raises(ValueError, match="needs scores"):
        metrics.update(None, t, t)
    metrics.update(s, t.astype(int), t.astype(float))  # 0/1 numbers are accepted


def test_empty_collection_and_duplicates():
    assert MetricCollection([]).compute() == {}
    metrics = create_metrics(
        ["p@5", "p@05", "f1_head", "f1_tail"], 5, train_label_counts=np.ones(5)
    )
    assert metrics.names == ["p@5", "f1_head", "f1_medium", "f1_tail"]


def test_embedding_quality_separates_clusters() -> None:
    from labelwise.metrics.representation import embedding_quality

    rng = np.random.default_rng(0)
    centres = np.array([[5.0, 0.0], [0.0, 5.0], [-5.0, -5.0]])
    y = np.repeat(np.arange(3), 20)
    tight = centres[y] + 0.1 * rng.standard_normal((60, 2))
    loose = centres[y] + 5.0 * rng.standard_normal((60, 2))
    a, b = embedding_quality(tight, y), embedding_quality(loose, y)
    assert a["silhouette"] > 0.9 > b["silhouette"] and a["davies_bouldin"] < b["davies_bouldin"]
    multi = np.eye(3)[y]
    multi[0, 1] = 1  # two labels: left out
    assert embedding_quality(tight, multi)["silhouette"] == pytest.approx(
        embedding_quality(tight[1:], y[1:])["silhouette"])
    assert np.isnan(embedding_quality(tight[:5], np.zeros(5, dtype=int))["silhouette"])


def test_label_group_metrics_use_group_columns_and_documents() -> None:
    from labelwise.evaluation import evaluate_scores, label_group_columns

    counts = np.array([100, 60, 10, 0])  # frequent: 0, 1; fewshot: 2; zeroshot: 3
    assert label_group_columns(counts, "frequent").tolist() == [0, 1]
    assert label_group_columns(counts, "fewshot").tolist() == [2]
    y = np.array([[1, 0, 0, 0], [0, 1, 1, 0], [0, 0, 1, 0], [1, 0, 0, 1]], dtype=bool)
    scores = np.array([[.9, .1, .2, .3], [.2, .8, .1, .4], [.1, .2, .3, .9], [.9, .1, .1, .2]])
    out = evaluate_scores(["frequent_p@1", "fewshot_p@1", "zeroshot_p@1", "p@1"], scores, scores > .5, y,
                          train_counts=counts)
    assert out["frequent_p@1"] == 1.0  # docs 0, 1, 3: top frequent label is right each time
    assert out["fewshot_p@1"] == 1.0  # docs 1, 2 ranked over the single few-shot column
    assert out["zeroshot_p@1"] == 1.0  # doc 3 only
    assert out["p@1"] == 0.75  # doc 2's top label overall (column 3) is wrong
    empty = evaluate_scores(["zeroshot_p@1"], scores[:3], scores[:3] > .5, y[:3], train_counts=counts)
    assert np.isnan(empty["zeroshot_p@1"])
