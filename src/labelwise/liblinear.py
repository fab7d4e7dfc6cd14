"""One binary L2-loss SVM through LIBLINEAR, without scikit-learn's per-call checks.

A label tree fits one small SVM per label (EURLEX57K: 4,271 of them; 10^6 at the largest
scale), most on a few hundred documents. There ``LinearSVC.fit`` spends about 3 ms a call
validating its arguments, encoding the targets and weighing the classes before LIBLINEAR
starts, more than LIBLINEAR itself takes. :func:`fit_l2svm` calls the same LIBLINEAR
routine scikit-learn calls (``sklearn.svm._liblinear.train_wrap``), with the arguments
``LinearSVC`` would pass it, so the weights are the same to the last bit (a unit test checks
it). That routine is private to scikit-learn: if a release changes it, the first call
notices and every fit goes through ``LinearSVC`` instead.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import LinearSVC

MAX_ITER = 1000  # LinearSVC's default
# LIBLINEAR's solver numbers for the L2-regularised L2-loss SVM
PRIMAL, DUAL = 2, 1
_direct_ok: bool | None = None  # None: not tried yet


def use_dual(X: sp.spmatrix | np.ndarray) -> bool:
    """The dual problem where there are fewer documents than features (scikit-learn's
    ``dual="auto"``, stated here so that both paths agree whatever its default)."""
    return X.shape[0] < X.shape[1]


def fit_l2svm(X: sp.spmatrix | np.ndarray, y: np.ndarray, C: float, tol: float,
              seed: int, dual: bool | None = None) -> tuple[np.ndarray, float]:
    """(V,) float64 weights and the bias of an L2-loss SVM on ``X`` (float64 CSR: no copy) and 0/1 ``y``
    (both classes present), as ``LinearSVC(C=C, tol=tol, random_state=seed, dual=dual)``
    fits it; ``dual`` None: :func:`use_dual`."""
    global _direct_ok
    dual = use_dual(X) if dual is None else dual
    if _direct_ok is not False and sp.issparse(X):
        X = sp.csr_matrix(X, dtype=np.float64)  # no copy where it is float64 CSR already
        try:
            result = _direct(X, y, C, tol, seed, dual)
        except (ImportError, TypeError, ValueError, AttributeError):
            _direct_ok = False
        else:
            _direct_ok = True
            return result
    clf = LinearSVC(C=C, tol=tol, random_state=seed, dual=dual).fit(X, y)
    return clf.coef_.ravel(), float(clf.intercept_[0])


def _direct(X: sp.csr_matrix, y: np.ndarray, C: float, tol: float, seed: int,
            dual: bool) -> tuple[np.ndarray, float]:
    from sklearn.svm import _liblinear

    _liblinear.set_verbosity_wrap(0)  # LIBLINEAR prints its progress unless told not to
    targets = np.require((np.asarray(y) != 0).astype(np.float64), requirements="W")
    liblinear_seed = np.random.RandomState(seed).randint(np.iinfo("i").max)  # as LinearSVC draws it
    raw, n_iter = _liblinear.train_wrap(X, targets, True, DUAL if dual else PRIMAL, tol, 1.0, C,
                                        np.ones(2), MAX_ITER, liblinear_seed, 0.1, np.ones(X.shape[0]))
    if max(n_iter) >= MAX_ITER:
        warnings.warn("Liblinear failed to converge, increase the number of iterations.", ConvergenceWarning,
                      stacklevel=3)
    return raw[0, :-1], float(raw[0, -1])
