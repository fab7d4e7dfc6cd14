"""The direct LIBLINEAR call gives LinearSVC's weights exactly, and falls back to it."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.svm import LinearSVC

from labelwise import liblinear


@pytest.mark.parametrize(("n", "v"), [(300, 2000), (2000, 400)])  # dual and primal problems
@pytest.mark.parametrize("first", [0, 1])  # LIBLINEAR orders classes as it meets them
def test_direct_fit_equals_linearsvc(n: int, v: int, first: int) -> None:
    X = sp.csr_matrix(sp.random(n, v, density=0.02, random_state=1, dtype=np.float64))
    y = (np.random.default_rng(0).random(n) < 0.2).astype(np.int8)
    y[0] = first
    for C, tol, seed in [(1.0, 0.01, 0), (0.25, 1e-4, 13)]:
        w, b = liblinear.fit_l2svm(X, y, C, tol, seed)
        ref = LinearSVC(C=C, tol=tol, random_state=seed, dual=n < v).fit(X, y)
        np.testing.assert_array_equal(w, ref.coef_.ravel())
        assert b == ref.intercept_[0]
    assert liblinear._direct_ok is True


def test_a_changed_private_routine_falls_back_to_linearsvc(monkeypatch) -> None:
    def changed(*args):  # what calling a train_wrap of another signature raises
        raise TypeError("train_wrap() takes exactly 13 positional arguments")

    monkeypatch.setattr(liblinear, "_direct", changed)
    monkeypatch.setattr(liblinear, "_direct_ok", None)
    X = sp.csr_matrix(sp.random(200, 500, density=0.05, random_state=2, dtype=np.float32))
    y = (np.arange(200) % 3 == 0).astype(np.int8)
    w, b = liblinear.fit_l2svm(X, y, 1.0, 0.01, 0)
    ref = LinearSVC(C=1.0, tol=0.01, random_state=0, dual=True).fit(X, y)
    np.testing.assert_allclose(w, ref.coef_.ravel())
    assert liblinear._direct_ok is False
