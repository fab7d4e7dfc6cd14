"""The pure functions of labelwise.fusion: temperatures, the weight grid, the search."""

from __future__ import annotations

import numpy as np
import pytest

from labelwise import fusion
from labelwise.decode import sigmoid, softmax


def test_simplex_grid_covers_each_member_alone_and_sums_to_one() -> None:
    grid = list(fusion.simplex_grid(3, 0.25))
    assert len(grid) == 15  # C(4 + 2, 2)
    assert all(abs(w.sum() - 1) < 1e-9 and (w >= 0).all() for w in grid)
    for i in range(3):
        assert any(np.array_equal(w, np.eye(3)[i]) for w in grid)
    with pytest.raises(ValueError, match="must divide 1"):
        list(fusion.simplex_grid(2, 0.3))


def test_temperature_recovers_the_scale_of_overconfident_logits() -> None:
    """Labels drawn from softmax(z): logits 5z are overconfident and get T near 5, z/4
    underconfident and get T near 1/4."""
    rng = np.random.default_rng(0)
    z = rng.normal(size=(4000, 3)) * 2
    p = softmax(z)
    y = np.zeros_like(p)
    y[np.arange(len(p)), [rng.choice(3, p=row) for row in p]] = 1
    assert 3.5 < fusion.fit_temperature(5 * z, y, softmax, exclusive=True) < 7
    assert 0.18 < fusion.fit_temperature(z / 4, y, softmax, exclusive=True) < 0.35
    yb = (rng.random(z.shape) < sigmoid(z)).astype(np.float32)
    assert 0.7 < fusion.fit_temperature(z, yb, sigmoid, exclusive=False) < 1.4


def test_search_weights_finds_the_complementary_mix() -> None:
    """Member A is right on the first half, B on the second: only a mix is right on both."""
    y = np.tile([[1.0, 0.0]], (10, 1))
    a = np.tile([[0.9, 0.1]], (10, 1))
    a[5:] = [0.45, 0.55]  # wrong, but barely
    b = np.tile([[0.7, 0.3]], (10, 1))
    b[:5] = [0.4, 0.6]  # wrong, but less confident than a is right
    accuracy = lambda s: float((s.argmax(1) == y.argmax(1)).mean())  # noqa: E731
    assert accuracy(a) == accuracy(b) == 0.5
    w, best, alone = fusion.search_weights([a, b], accuracy, 0.1)
    assert alone == [accuracy(a), accuracy(b)]  # the grid's corners: each member alone
    assert best == 1.0 and 0 < w[0] < 1


def test_align_columns_maps_by_name_and_zero_fills() -> None:
    s = np.array([[0.2, 0.8]], dtype=np.float32)
    out = fusion.align_columns(s, ["b", "a"], ["a", "c", "b"])
    np.testing.assert_allclose(out, [[0.8, 0.0, 0.2]])


@pytest.mark.parametrize("kind", ["multiclass", "multilabel", "extreme"])
def test_task_logits_of_inverts_scores(kind: str) -> None:
    """A model that computes scores (a fusion) hands the task logits whose scores are them."""
    from labelwise.config import DecodeConfig
    from labelwise.data.labels import LabelSpace
    from labelwise.tasks import make_task
    from labelwise.types import Example

    labels = LabelSpace.fit([Example("x", (c,)) for c in "abc"], kind)
    task = make_task(labels, DecodeConfig())
    rng = np.random.default_rng(0)
    p = softmax(rng.normal(size=(5, 3))) if kind == "multiclass" else sigmoid(rng.normal(size=(5, 3)) * 3)
    np.testing.assert_allclose(task.scores(task.logits_of(p)), p, atol=1e-5)
