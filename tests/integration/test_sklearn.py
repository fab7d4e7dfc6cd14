"""TextClassifier as a scikit-learn estimator: parameters, clone, model selection, pipelines,
NotFittedError, score, the relevant checks of sklearn.utils.estimator_checks, and save()
refusing to replace what it should not."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils import estimator_checks

from labelwise import TextClassifier

TOPICS = {"sport": ["goal", "match", "team", "referee", "league"],
          "tech": ["code", "cpu", "software", "chip", "compiler"],
          "food": ["pasta", "salad", "bread", "soup", "cheese"]}


def _data(n: int = 90, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(n):
        topic = list(TOPICS)[i % len(TOPICS)]
        words = rng.choice(TOPICS[topic], 3).tolist() + rng.choice(["the", "a", "of", "and"], 2).tolist()
        texts.append(" ".join(rng.permutation(words)))
        labels.append(topic)
    return texts, labels


X, Y = _data()
LINEAR = {"model__type": "linear", "model__linear__min_df": 1, "model__linear__n_jobs": 1}


def test_parameters_are_config_keys_and_clone_keeps_them() -> None:
    clf = TextClassifier({"train": {"epochs": 2}}, train__lr=3e-4, preset="fast")
    assert clf.get_params() == {"config": {"train": {"epochs": 2}}, "train__lr": 3e-4, "preset": "fast"}
    twin = clone(clf)
    assert twin is not clf and twin.get_params() == clf.get_params()
    assert clf.set_params(train__lr=1e-3, model__linear__C=0.5) is clf
    assert clf.overrides == {"train__lr": 1e-3, "preset": "fast", "model__linear__C": 0.5}
    assert repr(clf) == ("TextClassifier(config={'train': {'epochs': 2}}, train__lr=0.001, preset='fast', "
                         "model__linear__C=0.5)")
    assert is_classifier(clf)
    with pytest.raises(ValueError, match="invalid parameter 'bogus'"):
        clf.set_params(bogus=1)
    with pytest.raises(ValueError, match="invalid parameter 'trian__lr'"):
        TextClassifier(trian__lr=1.0)


@pytest.mark.parametrize("call", ["predict", "predict_proba", "score", "save", "classes_"])
def test_an_unfitted_estimator_raises_not_fitted(call: str, tmp_path: Path) -> None:
    clf = TextClassifier(**LINEAR)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        if call == "classes_":
            _ = clf.classes_
        elif call == "save":
            clf.save(tmp_path / "run")
        elif call == "score":
            clf.score(X, Y)
        else:
            getattr(clf, call)(X)


def test_model_selection_and_pipelines_work() -> None:
    clf = TextClassifier(**LINEAR)
    scores = cross_val_score(clf, X, Y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.9
    search = GridSearchCV(clf, {"model__linear__C": [0.25, 4.0]}, cv=3).fit(X, Y)
    assert search.best_params_["model__linear__C"] in (0.25, 4.0)
    assert search.best_estimator_.config_.model.linear["C"] == search.best_params_["model__linear__C"]
    upper = FunctionTransformer(lambda texts: [t.upper() for t in texts])
    pipe = make_pipeline(upper, TextClassifier(**LINEAR)).fit(X, Y)
    assert pipe.score(X, Y) > 0.9 and pipe.predict(["PASTA AND SOUP"]) == ["food"]


def test_score_is_the_tasks_usual_metric() -> None:
    clf = TextClassifier(**LINEAR).fit(X, Y)
    test_x, test_y = _data(30, seed=1)
    assert clf.score(test_x, test_y) == pytest.approx(np.mean(np.array(clf.predict(test_x)) == np.array(test_y)))
    multi = [[y, "long"] if len(t) > 30 else [y] for t, y in zip(X, Y, strict=True)]
    ml = TextClassifier(**LINEAR, task="multilabel").fit(X, multi)
    assert ml.score(X, multi) == pytest.approx(ml.evaluate(X, multi)["micro_f1"])


# The checks that apply to an estimator of texts. The rest feed numeric arrays (ours reads
# lists of strings, as its tags say) or construct it from its signature's names, where
# **overrides is a catch-all, not a parameter.
CHECKS = ["check_get_params_invariance", "check_set_params", "check_no_attributes_set_in_init",
          "check_parameters_default_constructible", "check_estimators_unfitted", "check_estimator_repr",
          "check_estimator_cloneable", "check_valid_tag_types", "check_estimator_tags_renamed",
          "check_mixin_order"]


@pytest.mark.parametrize("name", CHECKS)
def test_scikit_learn_estimator_checks(name: str) -> None:
    getattr(estimator_checks, name)("TextClassifier", TextClassifier())


def test_save_refuses_to_replace_without_overwrite(tmp_path: Path) -> None:
    clf = TextClassifier(**LINEAR).fit(X, Y)
    run = tmp_path / "run"
    clf.save(run)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        clf.save(run)
    (run / "stale.txt").write_text("from an older run")
    clf.save(run, overwrite=True)
    assert not (run / "stale.txt").exists()
    assert TextClassifier.load(run).predict(X[:5]) == clf.predict(X[:5])
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("not a run")
    for overwrite in (False, True):
        with pytest.raises(FileExistsError, match="holds no labelwise run"):
            clf.save(mine, overwrite=overwrite)
    assert (mine / "notes.txt").read_text() == "not a run"


def test_fit_warns_when_it_chooses_on_a_tiny_validation_split() -> None:
    from labelwise.components import load_config
    from labelwise.estimator import chooses_on_validation

    with pytest.warns(UserWarning, match="validation split has 4 documents"):
        TextClassifier(**LINEAR).fit(X[:40], Y[:40])  # 10 % held out: 4 documents choose C
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TextClassifier(**LINEAR).fit(X[:40], Y[:40], X[40:], Y[40:])  # a split of its own: 50
        TextClassifier(**LINEAR, model__linear__C=1.0).fit(X[:40], Y[:40])  # nothing to choose
    fixed = load_config("fewshot-minilm-l6")  # one evaluation, after the last step
    assert not chooses_on_validation(fixed, "multiclass", 36)
    assert chooses_on_validation(load_config(None, ["train.epochs=3"]), "multiclass", 36)
    assert chooses_on_validation(fixed, "multilabel", 36)  # a threshold is tuned


def test_abstaining_on_texts_of_a_class_never_trained_on() -> None:
    """decode.abstain: coverage answers the confident texts; texts of an unseen class (no
    in-scope label) are counted as out of scope, and mostly abstained on."""
    unseen = [" ".join(["opera", "violin", "concert", "aria", "the"][i % 5:] + ["symphony"]) for i in range(20)]
    texts, labels = X + unseen, Y + ["music"] * len(unseen)
    plain = TextClassifier(**LINEAR).fit(X, Y)
    shy = TextClassifier(**LINEAR, decode__abstain="coverage", decode__coverage=0.9).fit(X, Y)
    with pytest.warns(UserWarning, match="not in the training labels|unseen"):
        before, after = plain.evaluate(texts, labels), shy.evaluate(texts, labels)
    assert before["out_of_scope_recall"] == 0.0 and before["answered"] == 1.0
    assert after["out_of_scope_recall"] > 0.5 and after["in_scope_accuracy"] > 0.8
    assert None in shy.predict(unseen)
