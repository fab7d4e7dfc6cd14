"""Stateful decoding of long documents read in chunks (PLANT's stateful decoder), as a pure
function of the chunk logits.

A document is read chunk by chunk, in order. After chunk c its label state is

    s_c = topk_sparsify(sigmoid(logits_c), k)      k largest probabilities kept, rest 0;
                                                    detached (no gradient)

and the state carried forward is the element-wise max of the states read so far,
``S_c = max(s_1, ..., s_c)``. A document with chunks 1..n gets

    y = logits_n + gamma * S_{n-1}                 (S_0 = 0)

so a label evidenced strongly in an early chunk keeps a boost of up to ``gamma`` even when
the last chunk says nothing about it, and a one-chunk document gets exactly its logits.

Only the last chunk's logits carry gradient through ``y``: the state is detached, so when
training on ``y`` alone the earlier chunks of a document get no gradient from it.
"""

from __future__ import annotations

import torch


def topk_sparsify(x: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the k largest entries of every row of ``x`` (R, L) and set the rest to 0.

    Exactly ``min(k, L)`` entries per row are kept (ties broken by ``torch.topk``).
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if k >= x.shape[-1]:
        return x
    top = x.topk(k, dim=-1)
    return torch.zeros_like(x).scatter_(-1, top.indices, top.values)


def chunk_positions(doc_index: torch.Tensor, num_docs: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Position of every chunk within its document and the number of chunks per document.

    Args:
        doc_index: (R,) long, document of each chunk; a document's chunks appear in reading
            order (not necessarily next to each other).
        num_docs: number of documents.

    Returns:
        positions (R,) long (0 for a document's first chunk) and counts (num_docs,) long.
    """
    r = doc_index.shape[0]
    counts = torch.bincount(doc_index, minlength=num_docs)  # (num_docs,)
    starts = torch.cumsum(counts, 0) - counts  # first sorted row of each document
    order = torch.sort(doc_index, stable=True).indices  # grouped, reading order kept
    positions = torch.empty_like(doc_index)
    positions[order] = torch.arange(r, device=doc_index.device) - starts[doc_index[order]]
    return positions, counts


def stateful_pool(
    chunk_logits: torch.Tensor, doc_index: torch.Tensor, num_docs: int, k: int, gamma: float
) -> torch.Tensor:
    """Document logits from chunk logits with a carried, sparsified label state.

    Args:
        chunk_logits: (R, L) logits of every chunk.
        doc_index: (R,) long, ``doc_index[r]`` is the document of chunk r; within a document
            the chunks appear in reading order. Every document 0..num_docs-1 needs at least
            one chunk.
        num_docs: number of documents D.
        k: labels kept in each chunk's state (``k >= L`` keeps all).
        gamma: weight of the carried state.

    Returns:
        (D, L): the logits of each document's last chunk plus ``gamma`` times the
        element-wise max of the (detached) states of its previous chunks.
    """
    if chunk_logits.dim() != 2:
        raise ValueError(f"chunk_logits must be (R, L), got {tuple(chunk_logits.shape)}")
    if doc_index.dim() != 1 or doc_index.shape[0] != chunk_logits.shape[0]:
        raise ValueError(
            f"doc_index must be ({chunk_logits.shape[0]},), got {tuple(doc_index.shape)}"
        )
    doc_index = doc_index.long()
    if doc_index.numel() and (int(doc_index.min()) < 0 or int(doc_index.max()) >= num_docs):
        raise ValueError(f"doc_index values must lie in [0, {num_docs})")
    positions, counts = chunk_positions(doc_index, num_docs)
    if bool((counts == 0).any()):
        missing = torch.nonzero(counts == 0).flatten()[:5].tolist()
        raise ValueError(f"documents without any chunk: {missing}")

    num_labels = chunk_logits.shape[1]
    state = topk_sparsify(torch.sigmoid(chunk_logits.detach()), k)  # (R, L), >= 0
    longest = int(counts.max())
    dense = state.new_zeros(num_docs, longest + 1, num_labels)  # slot 0: empty state S_0
    dense[doc_index, positions + 1] = state
    carried = torch.cummax(dense, dim=1).values  # carried[d, c] = S_c
    last_pos = counts - 1  # (D,)
    docs = torch.arange(num_docs, device=doc_index.device)
    prev_state = carried[docs, last_pos]  # S_{n-1}: (D, L)
    last_row = torch.full_like(counts, -1)
    is_last = positions == last_pos[doc_index]
    last_row[doc_index[is_last]] = torch.nonzero(is_last).flatten()
    return chunk_logits[last_row] + gamma * prev_state
