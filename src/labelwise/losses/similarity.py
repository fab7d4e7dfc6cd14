"""Pairwise similarity matrices for contrastive losses.

Each function maps embeddings ``a`` (N, p) and ``b`` (M, p) to an (N, M) matrix of scores,
with ``b`` defaulting to ``a``. :data:`SIMILARITIES` maps the names used in configs to the
functions; :func:`get_similarity` looks a name up with an error that lists the choices.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

SimilarityFn = Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]


def cosine_similarity_matrix(
    a: torch.Tensor, b: torch.Tensor | None = None, eps: float = 1e-8
) -> torch.Tensor:
    """Cosine similarity of every row of ``a`` with every row of ``b``, in [-1, 1].

    Rows are L2-normalised first (a zero row stays zero, norms are floored at ``eps``).

    Args:
        a: (N, p) embeddings.
        b: (M, p) embeddings; None compares ``a`` with itself.
        eps: floor of the row norms.

    Returns:
        (N, M) similarities.
    """
    a_n = F.normalize(a, dim=1, eps=eps)
    b_n = a_n if b is None else F.normalize(b, dim=1, eps=eps)
    return a_n @ b_n.transpose(0, 1)


def dot_similarity_matrix(a: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
    """Inner product of every row of ``a`` (N, p) with every row of ``b`` (M, p): (N, M).

    Equal to :func:`cosine_similarity_matrix` when the rows are already unit vectors.
    """
    return a @ (a if b is None else b).transpose(0, 1)


SIMILARITIES: dict[str, SimilarityFn] = {
    "cosine": cosine_similarity_matrix,
    "dot": dot_similarity_matrix,
}


def get_similarity(name: str) -> SimilarityFn:
    """The similarity function registered under ``name`` ("cosine" or "dot")."""
    try:
        return SIMILARITIES[name]
    except KeyError:
        raise ValueError(
            f"unknown similarity {name!r}; expected one of: {', '.join(sorted(SIMILARITIES))}"
        ) from None
