"""Mutual-information gain (MIG) between tokens and labels, kept sparse: top-N tokens per label.

For a token ``v`` and a label ``l`` over ``N`` training documents, let ``X_v`` be the indicator
"``v`` occurs in the document" and ``Y_l`` the indicator "``l`` is one of its labels". From the
2 x 2 contingency counts

    n11 = #docs with v and l        n10 = #docs with v, without l
    n01 = #docs without v, with l   n00 = #docs with neither

the gain is the mutual information (natural log)

    MI(v, l) = sum over the 4 cells c of  p(c) * log( p(c) / (p(row of c) * p(col of c)) )

with ``p(c) = n_c / N`` and empty cells contributing 0. It is a graded relevance of ``v`` for
``l``: the learning-to-rank stage (:mod:`labelwise.plant.l2r`) learns to order tokens by it.

Only co-occurrence counts ``n11`` need a pass over the data; they are the sparse product
``Y^T X`` (labels x vocabulary), computed a chunk of labels at a time so memory stays bounded
by ``label_chunk x V`` entries at worst. Every other count follows from the document
frequencies ``df_v`` and label frequencies ``n_l``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from safetensors.numpy import load_file, save_file

from labelwise import checkpoint as ckpt

FORMAT_VERSION = 1
TENSORS_FILE = "mig.safetensors"
META_FILE = "mig.json"

Progress = Callable[[int, int], None]


@dataclass
class MigTable:
    """Per label, its kept tokens and their MIG, in CSR layout (labels are the rows).

    ``indptr`` (L + 1,) int64; ``tokens`` (nnz,) int32 token ids; ``values`` (nnz,) float32
    MIG values. Row ``l`` is ``tokens[indptr[l]:indptr[l + 1]]``, sorted by decreasing MIG
    (ties by increasing token id). ``num_tokens`` is the vocabulary size ``V``; ``meta`` holds
    how the table was built (JSON-able).
    """

    indptr: np.ndarray
    tokens: np.ndarray
    values: np.ndarray
    num_tokens: int
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.indptr = np.asarray(self.indptr, dtype=np.int64)
        self.tokens = np.asarray(self.tokens, dtype=np.int32)
        self.values = np.asarray(self.values, dtype=np.float32)
        if self.indptr.ndim != 1 or len(self.indptr) < 1 or self.indptr[0] != 0:
            raise ValueError("MigTable.indptr must be 1-D and start at 0")
        if np.any(np.diff(self.indptr) < 0):
            raise ValueError("MigTable.indptr must be non-decreasing")
        nnz = int(self.indptr[-1])
        if len(self.tokens) != nnz or len(self.values) != nnz:
            raise ValueError(
                f"MigTable: indptr ends at {nnz} but there are {len(self.tokens)} tokens and "
                f"{len(self.values)} values"
            )
        if nnz and (self.tokens.min() < 0 or self.tokens.max() >= self.num_tokens):
            raise ValueError(f"MigTable: token ids must lie in [0, {self.num_tokens})")

    @property
    def num_labels(self) -> int:
        return len(self.indptr) - 1

    @property
    def nnz(self) -> int:
        return int(self.indptr[-1])

    def row_lengths(self) -> np.ndarray:
        """(L,) int64: how many tokens each label keeps."""
        return np.diff(self.indptr)

    def row(self, label: int) -> tuple[np.ndarray, np.ndarray]:
        """(tokens (n,) int32, values (n,) float32) of one label, by decreasing MIG."""
        if not 0 <= label < self.num_labels:
            raise IndexError(f"label {label} out of range [0, {self.num_labels})")
        a, b = int(self.indptr[label]), int(self.indptr[label + 1])
        return self.tokens[a:b], self.values[a:b]

    def to_csr(self) -> sp.csr_matrix:
        """(L, V) float32 sparse matrix of the kept values (column indices sorted)."""
        mat = sp.csr_matrix(
            (self.values, self.tokens, self.indptr), shape=(self.num_labels, self.num_tokens)
        )
        mat.sort_indices()
        return mat

    def to_dense(self, max_labels: int | None = None) -> np.ndarray:
        """(min(L, max_labels), V) float32 array, 0 where a pair was not kept (for tests)."""
        n = self.num_labels if max_labels is None else min(max_labels, self.num_labels)
        out = np.zeros((n, self.num_tokens), dtype=np.float32)
        for lab in range(n):
            toks, vals = self.row(lab)
            out[lab, toks] = vals
        return out

    def save(self, path: str | Path) -> Path:
        """Write ``mig.safetensors`` (indptr, tokens, values) and ``mig.json`` under the
        directory ``path`` (created). No pickle."""
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        tensors: dict[str, np.ndarray] = {
            "indptr": np.ascontiguousarray(self.indptr, dtype=np.int64),
            "tokens": np.ascontiguousarray(self.tokens, dtype=np.int32),
            "values": np.ascontiguousarray(self.values, dtype=np.float32),
        }
        ckpt.atomic_write(out / TENSORS_FILE, lambda p: save_file(tensors, str(p)))
        ckpt.write_json(out / META_FILE, {
            "format": "labelwise.plant.MigTable",
            "format_version": FORMAT_VERSION,
            "num_tokens": int(self.num_tokens),
            "num_labels": int(self.num_labels),
            "nnz": self.nnz,
            "meta": self.meta,
        })
        return out

    @classmethod
    def load(cls, path: str | Path) -> MigTable:
        """Read a table written by :meth:`save` from the directory ``path``."""
        folder = Path(path)
        info = ckpt.read_versioned_json(folder / META_FILE, "labelwise.plant.MigTable",
                                        FORMAT_VERSION, "a MIG table")
        file = folder / TENSORS_FILE
        if not file.is_file():
            raise ckpt.CheckpointError(f"'{file}' is missing")
        arrays = load_file(str(file))
        table = cls(arrays["indptr"], arrays["tokens"], arrays["values"],
                    int(info["num_tokens"]), dict(info.get("meta") or {}))
        if table.num_labels != int(info["num_labels"]):
            raise ckpt.CheckpointError(f"'{folder}': tensors and {META_FILE} disagree on labels")
        return table


def occurrence_matrix(
    docs: Sequence[Sequence[int]], vocab_size: int, ignore_ids: Iterable[int] = ()
) -> sp.csr_matrix:
    """(N, V) binary float32 CSR: entry (d, v) is 1 when token ``v`` occurs in document ``d``.

    Repeated tokens count once; ids in ``ignore_ids`` (e.g. ``[CLS]``, ``[SEP]``, ``[PAD]``)
    are dropped. Column indices are sorted within each row.
    """
    lengths = np.fromiter((len(d) for d in docs), dtype=np.int64, count=len(docs))
    flat = np.fromiter((t for d in docs for t in d), dtype=np.int64, count=int(lengths.sum()))
    rows = np.repeat(np.arange(len(docs), dtype=np.int64), lengths)
    if flat.size and (flat.min() < 0 or flat.max() >= vocab_size):
        raise ValueError(f"token ids must lie in [0, {vocab_size}); got {flat.min()}..{flat.max()}")
    ignore = np.fromiter((int(i) for i in ignore_ids), dtype=np.int64)
    if ignore.size:
        keep = ~np.isin(flat, ignore)
        flat, rows = flat[keep], rows[keep]
    mat = sp.csr_matrix(
        (np.ones(flat.size, dtype=np.float32), (rows, flat)), shape=(len(docs), vocab_size)
    )
    mat.sum_duplicates()
    mat.data[:] = 1.0
    return mat


def _binary_csr(mat: Any, name: str) -> sp.csr_matrix:
    """A 0/1 float32 CSR copy of a dense or sparse matrix (any non-zero becomes 1)."""
    out = sp.csr_matrix(mat, dtype=np.float32, copy=True)
    out.eliminate_zeros()
    out.data[:] = 1.0
    if out.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix")
    return out


def mutual_information(
    n11: np.ndarray, df: np.ndarray, nl: np.ndarray, num_docs: int
) -> np.ndarray:
    """Elementwise MI (nats) of two binary indicators from their counts.

    ``n11`` co-occurrence counts, ``df`` counts of the first indicator, ``nl`` counts of the
    second, all broadcastable to one shape; ``num_docs`` = N. Returns float64 of that shape.
    """
    n11 = np.asarray(n11, dtype=np.float64)
    df = np.asarray(df, dtype=np.float64)
    nl = np.asarray(nl, dtype=np.float64)
    n = float(num_docs)
    cells = (
        (n11, df, nl),                          # v and l
        (df - n11, df, n - nl),                 # v, not l
        (nl - n11, n - df, nl),                 # not v, l
        (n - df - nl + n11, n - df, n - nl),    # neither
    )
    total = np.zeros(np.broadcast(n11, df, nl).shape, dtype=np.float64)
    for count, row, col in cells:
        pos = count > 0
        # count > 0 implies row > 0 and col > 0, so the log is finite where it is used
        ratio = np.where(pos, count * n / np.where(pos, row * col, 1.0), 1.0)
        total += np.where(pos, count / n * np.log(ratio), 0.0)
    return total


def _top_of_row(
    toks: np.ndarray, mi: np.ndarray, top_n: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``top_n`` entries with the largest MI, by decreasing MI then increasing token id."""
    if toks.size > top_n:
        # a partition keeps every entry tied with the cut-off, then the exact sort decides
        cut = np.partition(mi, toks.size - top_n)[toks.size - top_n]
        sel = mi >= cut
        toks, mi = toks[sel], mi[sel]
    order = np.lexsort((toks, -mi))[:top_n]
    return toks[order], mi[order]


def compute_mig(
    occurrence: sp.spmatrix | np.ndarray | Sequence[Sequence[int]],
    labels: sp.spmatrix | np.ndarray,
    top_n: int = 100,
    label_chunk: int = 256,
    positive_only: bool = True,
    progress: Progress | None = None,
    vocab_size: int | None = None,
    ignore_ids: Iterable[int] = (),
) -> MigTable:
    """Top-``top_n`` tokens per label by mutual-information gain.

    Args:
        occurrence: (N, V) doc x vocab occurrence matrix (sparse or dense; any non-zero counts
            as "occurs"), or the documents as token-id lists (then ``vocab_size`` is needed and
            ``ignore_ids`` are dropped, see :func:`occurrence_matrix`).
        labels: (N, L) binary label matrix, numpy or scipy sparse.
        top_n: tokens kept per label (fewer when fewer are candidates).
        label_chunk: labels per sparse product; bounds memory by about
            ``label_chunk x V`` co-occurrence entries.
        positive_only: keep only positively associated pairs, ``n11 / N > p(v) p(l)``
            (i.e. ``n11 * N > df_v * n_l``). MI is symmetric in the direction of the
            association: a token that is unusually *absent* from a label's documents also has
            positive MI, but it is no evidence for the label, so by default it is dropped.
        progress: called as ``progress(labels_done, num_labels)`` after each chunk.

    Candidates: only pairs that co-occur at least once (``n11 >= 1``) are scored and ranked.
    The MI of a pair with ``n11 = 0`` is not zero in general (absence is informative), but
    such a pair is always negatively associated, so it could never pass ``positive_only``;
    with ``positive_only=False`` these pairs are still left out, which keeps the work
    proportional to the non-zeros of ``Y^T X`` instead of ``L x V``.

    Returns:
        A :class:`MigTable` with rows sorted by decreasing MIG (ties by token id).
    """
    if top_n < 1:
        raise ValueError(f"top_n must be >= 1, got {top_n}")
    if label_chunk < 1:
        raise ValueError(f"label_chunk must be >= 1, got {label_chunk}")
    if sp.issparse(occurrence) or isinstance(occurrence, np.ndarray):
        x = _binary_csr(occurrence, "occurrence")
        if vocab_size is not None and vocab_size != x.shape[1]:
            raise ValueError(f"vocab_size {vocab_size} != occurrence columns {x.shape[1]}")
    else:
        if vocab_size is None:
            raise ValueError("vocab_size is needed when documents are given as token-id lists")
        x = occurrence_matrix(occurrence, vocab_size, ignore_ids)
    y = _binary_csr(labels, "labels")
    num_docs, num_tokens = x.shape
    if y.shape[0] != num_docs:
        raise ValueError(f"{num_docs} documents in occurrence but {y.shape[0]} rows in labels")
    num_labels = y.shape[1]

    df = np.asarray(x.sum(axis=0), dtype=np.float64).ravel()          # (V,)
    yt = y.T.tocsr()                                                     # (L, N)
    nl_all = np.asarray(yt.sum(axis=1), dtype=np.float64).ravel()      # (L,)

    lengths = np.zeros(num_labels, dtype=np.int64)
    tok_parts: list[np.ndarray] = []
    val_parts: list[np.ndarray] = []
    for start in range(0, num_labels, label_chunk):
        stop = min(start + label_chunk, num_labels)
        co = (yt[start:stop] @ x).tocsr()                                # (c, V) counts n11
        co.sum_duplicates()
        nl_rows = np.repeat(nl_all[start:stop], np.diff(co.indptr))
        toks_all = co.indices
        n11 = co.data.astype(np.float64)
        mi_all = mutual_information(n11, df[toks_all], nl_rows, num_docs)
        keep = n11 >= 1
        if positive_only:
            keep &= n11 * num_docs > df[toks_all] * nl_rows
        for r in range(stop - start):
            a, b = co.indptr[r], co.indptr[r + 1]
            sel = keep[a:b]
            toks, mi = _top_of_row(toks_all[a:b][sel], mi_all[a:b][sel], top_n)
            lengths[start + r] = toks.size
            tok_parts.append(toks.astype(np.int32))
            val_parts.append(mi.astype(np.float32))
        if progress is not None:
            progress(stop, num_labels)

    indptr = np.zeros(num_labels + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    empty_i, empty_f = np.zeros(0, np.int32), np.zeros(0, np.float32)
    return MigTable(
        indptr,
        np.concatenate(tok_parts) if tok_parts else empty_i,
        np.concatenate(val_parts) if val_parts else empty_f,
        int(num_tokens),
        {"num_docs": int(num_docs), "top_n": int(top_n), "positive_only": bool(positive_only)},
    )
