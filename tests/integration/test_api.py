"""The scikit-learn-shaped API: fit returns self, predict gives names, predict_proba
columns follow classes_, and save/load reproduces predictions exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from labelwise import TextClassifier

TEXTS = ["good great fine", "bad awful poor", "great good nice", "awful bad sad"] * 10
LABELS = ["pos", "neg", "pos", "neg"] * 10
TINY = {
    "model": {"encoder": {"name": "cnn", "embed_dim": 16, "num_filters": 8, "kernel_sizes": [2]}},
    "tokenizer": {"vocab_size": 120, "max_length": 16},
    "train": {"epochs": 4, "batch_size": 8, "lr": 0.02, "progress": False, "tensorboard": False},
}


@pytest.mark.parametrize("config", [TINY, {"model": {"type": "linear"}}], ids=["cnn", "linear"])
def test_fit_predict_save_load(tmp_path: Path, config: dict) -> None:
    clf = TextClassifier(config)
    assert clf.fit(TEXTS, LABELS) is clf
    assert sorted(clf.classes_) == ["neg", "pos"]
    proba = clf.predict_proba(["good great", "awful bad"])
    assert proba.shape == (2, 2)
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-5)
    assert clf.predict(["good great", "awful bad"]) == ["pos", "neg"]
    assert proba[0, clf.classes_.index("pos")] > 0.5
    clf.save(tmp_path / "run")
    again = TextClassifier.load(tmp_path / "run")
    np.testing.assert_array_equal(again.predict_proba(TEXTS[:8]), clf.predict_proba(TEXTS[:8]))


def test_multilabel_predict_returns_lists() -> None:
    texts = ["red", "blue", "red blue", "green"] * 10
    labels = [["r"], ["b"], ["r", "b"], ["g"]] * 10
    clf = TextClassifier({"model": {"type": "linear"}}).fit(texts, labels)
    out = clf.predict(["red blue"])
    assert isinstance(out[0], list) and set(out[0]) == {"r", "b"}



def test_bad_inputs() -> None:
    with pytest.raises(TypeError, match="single string"):
        TextClassifier().fit("one text", ["a"])
    with pytest.raises(ValueError, match="2 texts but 1"):
        TextClassifier().fit(["a", "b"], ["x"])
    with pytest.raises(ValueError, match="empty"):
        TextClassifier().fit(["a", "  "], ["x", "y"])
    with pytest.raises(ValueError, match="empty"):
        TextClassifier().fit([], [])


def test_embed_returns_document_vectors() -> None:
    from labelwise import TextClassifier

    texts = ["good great fine", "bad awful poor"] * 8
    clf = TextClassifier({"model": {"encoder": {"name": "cnn", "embed_dim": 8, "num_filters": 4,
                                                "kernel_sizes": [2]}},
                          "tokenizer": {"vocab_size": 120, "max_length": 8},
                          "train": {"epochs": 1, "progress": False, "tensorboard": False}}
                         ).fit(texts, ["pos", "neg"] * 8)
    emb = clf.embed(texts[:3])
    assert emb.shape == (3, 4) and np.allclose(emb[0], emb[2])
    with pytest.raises(ValueError, match="projection"):
        clf.embed(texts[:3], which="embeddings")
