"""NgramTfidfVectorizer gives scikit-learn's TfidfVectorizer features exactly (vocabulary,
column order, values, each row's index order), only faster."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from labelwise.ngrams import NgramTfidfVectorizer

WORDS = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta", "iota", "kappa",
         "Lambda", "mu", "nü", "xi", "omicron", "pi", "rho", "sigma", "tau", "ÜPSILON"]


def corpus(n_docs: int = 120, seed: int = 0) -> list[str]:
    """Zipf-like word draws with punctuation, one-letter words (not tokens), digits, case,
    empty and one-word documents: many ties in term frequency at any cut-off."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, len(WORDS) + 1)
    p /= p.sum()
    docs = ["", "a", "alpha", "x y z", "beta, beta! 42"]
    for _ in range(n_docs):
        k = int(rng.integers(1, 25))
        words = [WORDS[i] for i in rng.choice(len(WORDS), size=k, p=p)]
        docs.append(" ".join(w + ("," if rng.random() < 0.1 else "") for w in words))
    return docs


def assert_same(a: sp.spmatrix, b: sp.spmatrix) -> None:
    a, b = sp.csr_matrix(a), sp.csr_matrix(b)
    assert a.shape == b.shape
    np.testing.assert_array_equal(a.indptr, b.indptr)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.data, b.data)


@pytest.mark.parametrize("params", [
    {},
    {"max_features": 9, "min_df": 2},  # unigrams: scikit-learn's counting, our sort and cut
    {"ngram_range": (1, 2), "min_df": 2, "max_features": 40, "sublinear_tf": True},
    {"ngram_range": (1, 2), "min_df": 2, "max_features": 7},
    {"ngram_range": (2, 2)},
    {"ngram_range": (1, 3), "binary": True, "use_idf": False, "max_features": 60},
    {"ngram_range": (2, 3), "min_df": 0.05, "max_df": 0.5},
    {"ngram_range": (1, 2), "max_df": 10, "lowercase": False},
    {"ngram_range": (1, 2), "min_df": 3, "max_features": 1000},  # limit above what min_df leaves
])
def test_fit_and_transform_equal_sklearn(params):
    train, new = corpus(seed=1), corpus(40, seed=2) + ["unseen words only", "pi rho sigma tau"]
    ours, theirs = NgramTfidfVectorizer(**params), TfidfVectorizer(**params)
    assert_same(ours.fit_transform(train), theirs.fit_transform(train))
    assert ours.vocabulary_ == theirs.vocabulary_
    np.testing.assert_array_equal(ours.idf_ if ours.use_idf else 0, theirs.idf_ if theirs.use_idf else 0)
    assert_same(ours.transform(new), theirs.transform(new))
    assert_same(ours.transform(train), theirs.transform(train))


def test_a_loaded_vocabulary_transforms_like_sklearn():
    """A model rebuilt from a saved vocabulary and idf (as TfidfLinear.load does)."""
    fitted = TfidfVectorizer(ngram_range=(1, 2), min_df=2).fit(corpus())
    vocab = dict(fitted.vocabulary_, **{"Upper Case": len(fitted.vocabulary_), "a  b": len(fitted.vocabulary_) + 1})
    ours = NgramTfidfVectorizer(ngram_range=(1, 2), vocabulary=vocab)
    theirs = TfidfVectorizer(ngram_range=(1, 2), vocabulary=vocab)
    idf = np.append(fitted.idf_, [1.0, 1.0])
    ours.idf_, theirs.idf_ = idf, idf
    docs = corpus(30, seed=5)
    assert_same(ours.transform(docs), theirs.transform(docs))


def test_the_same_errors_as_sklearn():
    for docs, params in [(["a b c", "!"], {}), (["alpha beta", "gamma"], {"min_df": 2})]:
        with pytest.raises(ValueError) as theirs:
            TfidfVectorizer(**params).fit_transform(docs)
        with pytest.raises(ValueError, match=str(theirs.value).split(";")[0].split(".")[0]):
            NgramTfidfVectorizer(**params).fit_transform(docs)


def test_other_analyzers_take_sklearn_path():
    docs = corpus(20)
    for params in [{"analyzer": "char_wb", "ngram_range": (2, 3)}, {"stop_words": ["alpha"]},
                   {"tokenizer": str.split, "token_pattern": None}]:
        assert_same(NgramTfidfVectorizer(**params).fit_transform(docs), TfidfVectorizer(**params).fit_transform(docs))


def test_past_int64_keys_it_counts_as_sklearn(monkeypatch):
    """Where n-gram keys would overflow (far beyond real corpora), scikit-learn's loop counts."""
    from labelwise import ngrams

    monkeypatch.setattr(ngrams, "INT64_LIMIT", 50)
    docs, params = corpus(30), {"ngram_range": (1, 2), "min_df": 2}
    ours, theirs = NgramTfidfVectorizer(**params), TfidfVectorizer(**params)
    assert_same(ours.fit_transform(docs), theirs.fit_transform(docs))
    assert_same(ours.transform(docs[:7]), theirs.transform(docs[:7]))


def test_documents_are_read_in_chunks(monkeypatch):
    from labelwise import ngrams

    monkeypatch.setattr(ngrams, "CHUNK_DOCS", 7)
    docs = corpus(50)
    ours, theirs = NgramTfidfVectorizer(ngram_range=(1, 2)), TfidfVectorizer(ngram_range=(1, 2))
    assert_same(ours.fit_transform(iter(docs)), theirs.fit_transform(docs))
    assert_same(ours.transform(iter(docs)), theirs.transform(docs))
