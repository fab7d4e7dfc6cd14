"""MIG tables: against a plain loop over every (token, label) pair, truncation, the
positive-association filter, label chunking, input forms and the safetensors round trip."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from labelwise.plant.mig import MigTable, compute_mig, mutual_information, occurrence_matrix

V, L = 10, 4

# 12 hand-made documents (token ids, with repeats) and their labels
DOCS: list[list[int]] = [
    [0, 1, 1, 2],
    [0, 2, 3],
    [1, 2, 2, 9],
    [3, 4, 5],
    [4, 5, 5, 6],
    [3, 5, 6, 0],
    [6, 7, 8],
    [7, 8, 8, 9, 0],
    [7, 9],
    [0, 1, 4, 7],
    [2, 3, 5, 8, 9],
    [1, 6],
]
LABELS: list[list[int]] = [
    [0], [0], [0, 3], [1], [1], [1, 0], [2], [2, 3], [2], [0, 2], [1, 3], [],
]


def label_matrix() -> np.ndarray:
    y = np.zeros((len(LABELS), L), dtype=np.int64)
    for d, labs in enumerate(LABELS):
        y[d, labs] = 1
    return y


def direct_table() -> dict[tuple[int, int], tuple[float, int, bool]]:
    """(v, l) -> (MI, n11, positively associated) with a plain loop and the textbook formula."""
    n = len(DOCS)
    sets = [set(d) for d in DOCS]
    out = {}
    for v in range(V):
        for lab in range(L):
            n11 = sum(1 for d in range(n) if v in sets[d] and lab in LABELS[d])
            n10 = sum(1 for d in range(n) if v in sets[d] and lab not in LABELS[d])
            n01 = sum(1 for d in range(n) if v not in sets[d] and lab in LABELS[d])
            n00 = n - n11 - n10 - n01
            p_v = (n11 + n10) / n
            p_l = (n11 + n01) / n
            mi = 0.0
            for count, pr, pc in ((n11, p_v, p_l), (n10, p_v, 1 - p_l),
                                  (n01, 1 - p_v, p_l), (n00, 1 - p_v, 1 - p_l)):
                if count:
                    p = count / n
                    mi += p * math.log(p / (pr * pc))
            out[(v, lab)] = (mi, n11, n11 / n > p_v * p_l)
    return out


def test_occurrence_matrix_is_binary_and_drops_ignored_ids() -> None:
    x = occurrence_matrix(DOCS, V, ignore_ids=[9])
    assert x.shape == (12, V)
    assert set(np.unique(x.data)) == {1.0}
    dense = x.toarray()
    assert dense[0].tolist() == [1, 1, 1, 0, 0, 0, 0, 0, 0, 0]   # repeats count once
    assert dense[:, 9].sum() == 0
    with pytest.raises(ValueError):
        occurrence_matrix([[0, V]], V)


def test_mutual_information_special_cases() -> None:
    # independence: p(v, l) = p(v) p(l) -> 0
    assert mutual_information(np.array([2.0]), np.array([4.0]), np.array([4.0]), 8)[0] == \
        pytest.approx(0.0, abs=1e-12)
    # perfect association with p = 1/4: MI = entropy of the indicator
    h = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    assert mutual_information(np.array([2.0]), np.array([2.0]), np.array([2.0]), 8)[0] == \
        pytest.approx(h)


@pytest.mark.parametrize("positive_only", [False, True])
def test_kept_entries_equal_direct_computation(positive_only: bool) -> None:
    ref = direct_table()
    table = compute_mig(occurrence_matrix(DOCS, V), label_matrix(), top_n=V,
                        positive_only=positive_only)
    assert table.num_labels == L and table.num_tokens == V
    for lab in range(L):
        toks, vals = table.row(lab)
        expected = {v for v in range(V) if ref[(v, lab)][1] >= 1
                    and (ref[(v, lab)][2] or not positive_only)}
        assert set(toks.tolist()) == expected
        for v, val in zip(toks.tolist(), vals.tolist(), strict=True):
            assert val == pytest.approx(ref[(v, lab)][0], rel=1e-6, abs=1e-7)
        assert np.all(np.diff(vals) <= 0)                     # sorted by decreasing MIG
    dense = table.to_dense()
    assert dense.shape == (L, V)
    assert table.to_dense(max_labels=2).shape == (2, V)


def test_positive_only_drops_negative_associations_and_zero_cooccurrence() -> None:
    ref = direct_table()
    pos = compute_mig(occurrence_matrix(DOCS, V), label_matrix(), top_n=V)
    full = compute_mig(occurrence_matrix(DOCS, V), label_matrix(), top_n=V, positive_only=False)
    negative = [(v, lab) for (v, lab), (_, n11, up) in ref.items() if n11 >= 1 and not up]
    assert negative, "the corpus should hold negatively associated co-occurring pairs"
    for v, lab in negative:
        assert v in full.row(lab)[0] and v not in pos.row(lab)[0]
    # never co-occurring pairs have MI > 0 in general, yet are never kept (documented)
    absent = [(v, lab) for (v, lab), (mi, n11, _) in ref.items() if n11 == 0 and mi > 1e-9]
    assert absent
    for v, lab in absent:
        assert v not in full.row(lab)[0]


def test_top_n_keeps_the_largest() -> None:
    ref = direct_table()
    for top_n in (1, 2, 3):
        table = compute_mig(occurrence_matrix(DOCS, V), label_matrix(), top_n=top_n)
        for lab in range(L):
            cands = sorted((-ref[(v, lab)][0], v) for v in range(V)
                           if ref[(v, lab)][1] >= 1 and ref[(v, lab)][2])
            toks, vals = table.row(lab)
            assert len(toks) == min(top_n, len(cands))
            kept_mi = sorted((-m for m, _ in cands), reverse=True)[:top_n]
            np.testing.assert_allclose(vals, kept_mi, rtol=1e-6)
            # equal counts give equal MI; such ties go to the smaller token id
            assert toks.tolist() == [v for _, v in cands[:top_n]]


def test_label_chunking_gives_the_same_table() -> None:
    x, y = occurrence_matrix(DOCS, V), label_matrix()
    one = compute_mig(x, y, top_n=3, label_chunk=1000)
    calls: list[tuple[int, int]] = []
    for chunk in (1, 3):
        other = compute_mig(x, y, top_n=3, label_chunk=chunk,
                            progress=lambda done, total: calls.append((done, total)))
        np.testing.assert_array_equal(one.indptr, other.indptr)
        np.testing.assert_array_equal(one.tokens, other.tokens)
        np.testing.assert_array_equal(one.values, other.values)
    assert calls[:4] == [(1, 4), (2, 4), (3, 4), (4, 4)] and calls[4:] == [(3, 4), (4, 4)]


def test_input_forms_agree() -> None:
    y = label_matrix()
    ref = compute_mig(occurrence_matrix(DOCS, V), y, top_n=4)
    from_lists = compute_mig(DOCS, sp.csr_matrix(y), top_n=4, vocab_size=V)
    counts = occurrence_matrix(DOCS, V).toarray() * 3          # counts, dense: non-zero = 1
    from_dense = compute_mig(counts, y.astype(bool), top_n=4)
    for other in (from_lists, from_dense):
        np.testing.assert_array_equal(ref.indptr, other.indptr)
        np.testing.assert_array_equal(ref.tokens, other.tokens)
        np.testing.assert_array_equal(ref.values, other.values)
    with pytest.raises(ValueError):
        compute_mig(DOCS, y)                                   # lists need vocab_size
    with pytest.raises(ValueError):
        compute_mig(occurrence_matrix(DOCS, V), y[:5])


def test_save_load_round_trip(tmp_path) -> None:
    table = compute_mig(occurrence_matrix(DOCS, V), label_matrix(), top_n=3)
    table.save(tmp_path / "mig")
    back = MigTable.load(tmp_path / "mig")
    np.testing.assert_array_equal(back.indptr, table.indptr)
    np.testing.assert_array_equal(back.tokens, table.tokens)
    np.testing.assert_array_equal(back.values, table.values)
    assert back.tokens.dtype == np.int32 and back.values.dtype == np.float32
    assert back.num_tokens == V and back.meta == table.meta
    assert back.meta["positive_only"] is True and back.meta["num_docs"] == 12


def test_empty_label_and_validation() -> None:
    y = np.zeros((len(DOCS), 2), dtype=np.int64)
    y[0, 0] = 1
    table = compute_mig(occurrence_matrix(DOCS, V), y, top_n=5)
    assert len(table.row(1)[0]) == 0
    with pytest.raises(IndexError):
        table.row(2)
    with pytest.raises(ValueError):
        MigTable(np.array([0, 2]), np.array([1], np.int32), np.array([0.1], np.float32), V)
