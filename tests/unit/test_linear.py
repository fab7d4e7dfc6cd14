"""TF-IDF + linear baseline on tiny synthetic corpora."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest

from labelwise.linear import TfidfLinear, _reported

WORDS = {
    0: ["apple", "banana", "cherry"],
    1: ["engine", "wheel", "brake"],
    2: ["guitar", "piano", "drums"],
}
FILLER = ["the", "and", "with", "some", "more"]


def _corpus(n: int = 24, multilabel: bool = False, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Documents whose words come from the topics they are labelled with."""
    rng = np.random.default_rng(seed)
    texts, Y = [], np.zeros((n, 3), dtype=np.int64)
    for i in range(n):
        labels = [i % 3] + ([(i + 1) % 3] if multilabel and i % 2 else [])
        words = [w for lab in labels for w in rng.choice(WORDS[lab], 2)] + list(
            rng.choice(FILLER, 2)
        )
        texts.append(" ".join(rng.permutation(words)))
        Y[i, labels] = 1
    return texts, Y


@pytest.mark.parametrize("loss", ["logreg", "squared_hinge"])
def test_multilabel_fits_training_set(loss: str) -> None:
    texts, Y = _corpus(multilabel=True)
    clf = TfidfLinear(C=10.0, loss=loss).fit(texts, Y, task="multilabel")
    scores = clf.decision_function(texts)
    assert scores.shape == Y.shape and scores.dtype == np.float32
    assert np.array_equal(scores > 0, Y == 1)
    np.testing.assert_allclose(clf.predict_proba(texts), 1 / (1 + np.exp(-scores)), rtol=1e-6)


@pytest.mark.parametrize("loss", ["logreg", "squared_hinge"])
def test_multiclass_fits_training_set_and_probabilities_sum_to_one(loss: str) -> None:
    texts, Y = _corpus()
    clf = TfidfLinear(C=10.0, loss=loss).fit(texts, Y, task="multiclass")
    assert np.array_equal(clf.decision_function(texts).argmax(1), Y.argmax(1))
    np.testing.assert_allclose(clf.predict_proba(texts).sum(1), 1.0, rtol=1e-6)


def test_multiclass_logreg_probabilities_are_the_models_own() -> None:
    from sklearn.linear_model import LogisticRegression

    texts, Y = _corpus()
    clf = TfidfLinear(C=10.0, loss="logreg").fit(texts, Y, task="multiclass")
    X = clf.vectorizer_.transform(texts)
    ref = LogisticRegression(C=10.0, max_iter=1000).fit(X, Y.argmax(1))
    np.testing.assert_allclose(clf.predict_proba(texts), ref.predict_proba(X), atol=1e-5)


@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
def test_save_load_round_trip(tmp_path, task: str) -> None:
    texts, Y = _corpus(multilabel=task == "multilabel")
    clf = TfidfLinear(C=2.0).fit(texts, Y, task=task)
    clf.save(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"linear.safetensors", "linear.json"}
    meta = json.loads((tmp_path / "linear.json").read_text())
    assert meta["task"] == task and meta["format_version"] == 1 and "vocabulary" in meta
    loaded = TfidfLinear.load(tmp_path)
    new = ["apple engine the", "piano drums wheel", "unseen words only"]
    np.testing.assert_allclose(loaded.decision_function(new), clf.decision_function(new), atol=1e-6)
    assert loaded.config == clf.config


def test_max_words_reads_only_the_first_words(tmp_path) -> None:
    texts, Y = _corpus()
    # a tail that names another topic: read, it would be the strongest signal
    tails = [" ".join(WORDS[(i + 1) % 3] * 3) for i in range(len(texts))]
    long_texts = [f"{t} {tail}" for t, tail in zip(texts, tails, strict=True)]
    window = len(texts[0].split())
    assert all(len(t.split()) == window for t in texts)
    cut = TfidfLinear(C=2.0, max_words=window).fit(long_texts, Y, task="multilabel")
    plain = TfidfLinear(C=2.0).fit(texts, Y, task="multilabel")
    # the same vocabulary and scores as a model trained on the first words alone
    assert cut.vectorizer_.vocabulary_ == plain.vectorizer_.vocabulary_
    new = ["apple cherry the and " + "engine " * 20, "piano drums with some"]
    first_words = [" ".join(t.split()[:window]) for t in new]
    np.testing.assert_allclose(
        cut.decision_function(new), plain.decision_function(first_words), atol=1e-6
    )
    assert cut.decision_function(new)[0].argmax() == 0  # the tail's "engine" is never read
    full = TfidfLinear(C=2.0).fit(long_texts, Y, task="multilabel")
    assert not np.allclose(full.decision_function(new), cut.decision_function(new), atol=1e-3)
    cut.save(tmp_path)
    loaded = TfidfLinear.load(tmp_path)
    assert loaded.config.max_words == window
    np.testing.assert_allclose(loaded.decision_function(new), cut.decision_function(new), atol=1e-6)
    with pytest.raises(ValueError):
        TfidfLinear(max_words=0)


def test_sparse_coef_round_trip(tmp_path, monkeypatch) -> None:
    import labelwise.linear as linear

    monkeypatch.setattr(linear, "DENSE_COEF_LIMIT", 0)  # no "small model" exemption
    texts, Y = _corpus(multilabel=True)
    Y = np.hstack([Y, np.zeros((len(texts), 20), int)])  # empty labels: zero rows, sparse W
    clf = TfidfLinear(loss="squared_hinge").fit(texts, Y, task="extreme")
    clf.save(tmp_path)
    assert json.loads((tmp_path / "linear.json").read_text())["coef_format"] == "csr"
    loaded = TfidfLinear.load(tmp_path)
    np.testing.assert_allclose(
        loaded.decision_function(texts), clf.decision_function(texts), atol=1e-6
    )


def test_labels_without_positives_or_all_positive_get_constant_scores() -> None:
    texts, Y = _corpus(multilabel=True)
    Y = np.hstack([Y, np.zeros((len(texts), 1), int), np.ones((len(texts), 1), int)])
    clf = TfidfLinear().fit(texts, Y, task="multilabel")
    scores = clf.decision_function(texts + ["nothing known"])
    assert (scores[:, 3] < -10).all() and (scores[:, 4] > 10).all()
    ids = np.array([0, 1, 0, 1])  # multi-class with a class never seen and only two present
    clf = TfidfLinear().fit(texts[:4], np.eye(3)[ids], task="multiclass")
    assert np.array_equal(clf.decision_function(texts[:4]).argmax(1), ids)


@pytest.mark.parametrize("ngram_range", [[1, 1], [1, 2]])
def test_reading_the_texts_reports_progress(ngram_range, monkeypatch) -> None:
    from labelwise import linear

    texts, Y = _corpus(n=50)
    seen: list[int] = []
    plain = TfidfLinear(C=1.0, ngram_range=ngram_range).fit(texts, Y, task="multiclass")
    monkeypatch.setattr(linear, "_reported", functools.partial(_reported, block=7))
    clf = TfidfLinear(C=1.0, ngram_range=ngram_range).fit(texts, Y, task="multiclass", on_documents=seen.append)
    assert seen == [7] * 7 + [1]  # blocks of 7 as they are read, then the rest
    np.testing.assert_array_equal(clf.decision_function(texts), plain.decision_function(texts))


def test_tiny_corpus_falls_back_from_min_df() -> None:
    texts = ["red apple", "blue sky", "green grass"]
    with pytest.warns(UserWarning, match="min_df=2"):
        clf = TfidfLinear().fit(texts, np.eye(3), task="multiclass")
    assert clf.min_df_used_ == 1
    assert clf.decision_function(["red sky"]).shape == (1, 3)


def test_user_errors() -> None:
    texts, Y = _corpus(multilabel=True)
    with pytest.raises(ValueError, match="one-hot rows"):
        TfidfLinear().fit(texts, Y, task="multiclass")
    with pytest.raises(ValueError, match="one row per text"):
        TfidfLinear().fit(texts[:-1], Y, task="multilabel")
    with pytest.raises(ValueError, match="not fitted"):
        TfidfLinear().decision_function(["x"])
    with pytest.raises(ValueError, match="min_n <= max_n"):
        TfidfLinear(ngram_range=(2, 1))
    with pytest.raises(ValueError):
        TfidfLinear(max_feature=10)  # typo: extra keys are errors


@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
def test_nb_weighting_fits_and_round_trips(tmp_path, task: str) -> None:
    texts, Y = _corpus(multilabel=task == "multilabel")
    clf = TfidfLinear(C=10.0, loss="squared_hinge", weighting="nb", ngram_range=(1, 3)).fit(texts, Y, task=task)
    scores = clf.decision_function(texts)
    if task == "multiclass":
        assert np.array_equal(scores.argmax(1), Y.argmax(1))
    else:
        assert np.array_equal(scores > 0, Y == 1)
    X = clf.vectorizer_.transform(texts)
    # presence only, no idf: every n-gram of a document weighs the same (1 / sqrt(count))
    assert all(np.allclose(X[i].data, 1 / np.sqrt(X[i].nnz)) for i in range(X.shape[0]))
    clf.save(tmp_path)
    loaded = TfidfLinear.load(tmp_path)
    new = ["apple engine the", "piano drums wheel", "unseen words only"]
    np.testing.assert_allclose(loaded.decision_function(new), clf.decision_function(new), atol=1e-6)


def test_nb_ratio_favours_the_positive_documents_words() -> None:
    import scipy.sparse as sp

    from labelwise.linear import _nb_ratio

    # columns: a word of the positives only, of the negatives only, of every document
    X = sp.csr_matrix(np.array([[1, 0, 1], [1, 0, 1], [0, 1, 1], [0, 1, 1]], dtype=np.float32))
    r = _nb_ratio(X, np.array([1, 1, 0, 0]), alpha=1.0)
    # positive counts (3, 1, 3) / 7 against negative (1, 3, 3) / 7
    np.testing.assert_allclose(r, np.log([3.0, 1 / 3, 1.0]), atol=1e-6)


@pytest.mark.parametrize("weighting", ["tfidf", "nb"])
def test_worker_processes_fit_the_same_model_as_one(weighting: str, monkeypatch) -> None:
    import labelwise.linear as linear

    monkeypatch.setattr(linear, "PARALLEL_MIN_WORK", 0)  # tiny, but shared out all the same
    texts, Y = _corpus(n=30, multilabel=True)
    for task, y in (("multilabel", Y), ("multiclass", np.eye(3)[np.arange(30) % 3])):
        one = TfidfLinear(loss="squared_hinge", weighting=weighting, n_jobs=1).fit(texts, y, task=task)
        two = TfidfLinear(loss="squared_hinge", weighting=weighting, n_jobs=2).fit(texts, y, task=task)
        np.testing.assert_allclose(two.decision_function(texts), one.decision_function(texts), atol=1e-6)


def test_multiclass_one_vs_rest_matches_liblinear_own() -> None:
    from sklearn.svm import LinearSVC

    texts, Y = _corpus()
    clf = TfidfLinear(C=2.0, loss="squared_hinge").fit(texts, Y, task="multiclass")
    X = clf.vectorizer_.transform(texts)
    ref = LinearSVC(C=2.0, random_state=0).fit(X, Y.argmax(1))
    np.testing.assert_allclose(clf.decision_function(texts), ref.decision_function(X), atol=1e-3)


def test_a_list_of_C_keeps_the_best_on_validation_with_features_built_once(monkeypatch) -> None:
    import labelwise.linear as linear

    texts, Y = _corpus(n=30, multilabel=True)
    built = []
    real = linear._fit_vectorizer
    monkeypatch.setattr(linear, "_fit_vectorizer", lambda *a: built.append(1) or real(*a))
    for sign, want in ((1.0, 4.0), (-1.0, 0.25)):  # rate large scores high, then low
        built.clear()
        clf = TfidfLinear(C=[0.25, 1.0, 4.0]).fit(
            texts, Y, task="multilabel", valid_texts=texts[:10], judge=lambda s, sign=sign: sign * float(np.abs(s).mean()))
        assert len(built) == 1  # one vectorizer, whatever the number of C values
        assert clf.C_ == want and sorted(clf.C_search_) == [0.25, 1.0, 4.0]
        single = TfidfLinear(C=want).fit(texts, Y, task="multilabel")
        np.testing.assert_allclose(clf.decision_function(texts), single.decision_function(texts), atol=1e-6)


def test_a_list_of_C_without_validation_data_chooses_on_a_tenth_of_train(tmp_path) -> None:
    texts, Y = _corpus(n=40)
    clf = TfidfLinear(C=[0.25, 1.0]).fit(texts, Y, task="multiclass")
    assert clf.C_ in (0.25, 1.0) and len(clf.C_search_) == 2
    single = TfidfLinear(C=clf.C_).fit(texts, Y, task="multiclass")  # refitted on all of train
    np.testing.assert_allclose(clf.decision_function(texts), single.decision_function(texts), atol=1e-6)
    clf.save(tmp_path)
    assert TfidfLinear.load(tmp_path).C_ == clf.C_
    with pytest.raises(ValueError, match="C must be > 0"):
        TfidfLinear(C=[])
    with pytest.raises(ValueError, match="together"):
        TfidfLinear().fit(texts, Y, task="multiclass", valid_texts=texts)


def test_the_backend_chooses_C_by_the_primary_metric_on_validation(capsys) -> None:
    from labelwise import TextClassifier

    texts, Y = _corpus(n=60)
    labels = [str(i) for i in Y.argmax(1)]
    clf = TextClassifier({"model": {"type": "linear"}}).fit(texts[:48], labels[:48], texts[48:], labels[48:])
    state = clf.backend_.train_state
    assert state["C"] in (0.25, 1.0) and set(state["valid_accuracy_by_C"]) == {"0.25", "1.0"}
    assert f"linear model: C={state['C']:g} chosen on validation (accuracy " in capsys.readouterr().err


def test_every_label_fit_is_reported_for_a_progress_bar() -> None:
    texts, Y = _corpus(n=30, multilabel=True)
    for task, y in (("multilabel", Y), ("multiclass", np.eye(3)[np.arange(30) % 3]), ("multiclass", np.eye(2)[np.arange(30) % 2])):
        done: list[int] = []
        TfidfLinear(C=[0.25, 1.0]).fit(texts, y, task=task, valid_texts=texts, judge=lambda s: 0.0,
                                       on_labels=done.append)
        assert sum(done) == 2 * y.shape[1]  # every label (class) once per value of C
