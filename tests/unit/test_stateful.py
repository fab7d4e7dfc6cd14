"""Stateful decoder over chunked documents against a plain Python loop and max pooling."""

from __future__ import annotations

import pytest
import torch

from labelwise.decode import pool_chunks
from labelwise.models.stateful import chunk_positions, stateful_pool, topk_sparsify


def loop_reference(logits: torch.Tensor, doc_index: list[int], num_docs: int, k: int,
                   gamma: float) -> torch.Tensor:
    """Read every document's chunks one by one, carrying the max of the sparsified states."""
    out = []
    for d in range(num_docs):
        rows = [r for r, doc in enumerate(doc_index) if doc == d]
        state = torch.zeros(logits.shape[1])
        for r in rows[:-1]:
            probs = torch.sigmoid(logits[r].detach())
            top = probs.topk(min(k, probs.numel())).indices
            sparse = torch.zeros_like(probs)
            sparse[top] = probs[top]
            state = torch.maximum(state, sparse)
        out.append(logits[rows[-1]] + gamma * state)
    return torch.stack(out)


def test_one_chunk_documents_equal_plain_logits() -> None:
    logits = torch.randn(5, 8)
    doc_index = torch.tensor([3, 0, 4, 1, 2])
    out = stateful_pool(logits, doc_index, 5, k=3, gamma=2.0)
    torch.testing.assert_close(out, logits[torch.argsort(doc_index)], atol=0, rtol=0)
    torch.testing.assert_close(out, pool_chunks(logits, doc_index, 5), atol=0, rtol=0)


def test_label_evidenced_only_in_the_first_chunk_keeps_a_boost() -> None:
    gamma, label, k = 0.7, 2, 2
    background = -4.0 - torch.arange(6, dtype=torch.float32) / 10  # distinct, no ties
    logits = background.repeat(3, 1)
    logits[0, label] = 5.0  # strong evidence in chunk 1 only
    logits[1, 4] = 1.0  # some evidence in chunk 2 only
    one_doc = torch.zeros(3, dtype=torch.long)
    out = stateful_pool(logits, one_doc, 1, k=k, gamma=gamma)[0]
    sig = torch.sigmoid
    # state after chunk 1: {label 2: sig(5), label 0: sig(-4)}; after chunk 2: {4, 0}
    torch.testing.assert_close(out[label], logits[2, label] + gamma * sig(torch.tensor(5.0)))
    torch.testing.assert_close(out[4], logits[2, 4] + gamma * sig(torch.tensor(1.0)))
    torch.testing.assert_close(out[0], logits[2, 0] + gamma * sig(background[0]))
    torch.testing.assert_close(out[[1, 3, 5]], logits[2, [1, 3, 5]])  # never in a state
    # max pooling keeps the raw chunk-1 logit instead; the plain last chunk forgets it
    assert out[label] > logits[2, label]
    assert pool_chunks(logits, one_doc, 1)[0, label] == 5.0


@pytest.mark.parametrize("k", [1, 3, 8, 20])
def test_topk_sparsify_keeps_exactly_k_labels(k: int) -> None:
    probs = torch.rand(6, 8) + 0.01  # strictly positive
    sparse = topk_sparsify(probs, k)
    assert ((sparse != 0).sum(1) == min(k, 8)).all()
    kept = sparse != 0
    torch.testing.assert_close(sparse[kept], probs[kept])
    assert (probs.masked_fill(kept, -1).amax(1) <= probs.masked_fill(~kept, 2).amin(1)).all()
    with pytest.raises(ValueError):
        topk_sparsify(probs, 0)


def test_carried_state_has_exactly_k_labels_per_chunk() -> None:
    """With logits_last = 0 and gamma = 1, a two-chunk document's output is its first chunk's
    state: exactly k non-zero labels."""
    logits = torch.randn(4, 10)
    logits[1] = 0.0
    logits[3] = 0.0
    out = stateful_pool(logits, torch.tensor([0, 0, 1, 1]), 2, k=3, gamma=1.0)
    assert ((out != 0).sum(1) == 3).all()
    torch.testing.assert_close(out[0], topk_sparsify(torch.sigmoid(logits[0]), 3))


def test_state_is_detached() -> None:
    logits = torch.randn(5, 6, requires_grad=True)
    doc_index = torch.tensor([0, 0, 0, 1, 1])
    out = stateful_pool(logits, doc_index, 2, k=2, gamma=3.0)
    out.sum().backward()
    assert logits.grad is not None
    torch.testing.assert_close(logits.grad[[2, 4]], torch.ones(2, 6))  # last chunks
    torch.testing.assert_close(logits.grad[[0, 1, 3]], torch.zeros(3, 6))  # earlier: none


def test_matches_the_loop_and_is_independent_of_document_order() -> None:
    g = torch.Generator().manual_seed(0)
    lengths = [3, 1, 4, 2, 1]
    doc_index = torch.tensor([d for d, n in enumerate(lengths) for _ in range(n)])
    logits = torch.randn(len(doc_index), 7, generator=g) * 3
    out = stateful_pool(logits, doc_index, len(lengths), k=3, gamma=0.5)
    torch.testing.assert_close(out, loop_reference(logits, doc_index.tolist(), 5, 3, 0.5))

    # rename the documents and interleave their chunks (reading order within each kept)
    perm = torch.tensor([2, 4, 0, 1, 3])  # old doc d -> new doc perm[d]
    by_doc = {d: [r for r in range(len(doc_index)) if int(doc_index[r]) == d] for d in range(5)}
    seq = []  # round-robin over documents: chunks interleaved, each doc's order kept
    while any(by_doc.values()):
        for d in range(5):
            if by_doc[d]:
                seq.append(by_doc[d].pop(0))
    order = torch.tensor(seq)
    shuffled = stateful_pool(logits[order], perm[doc_index[order]], 5, k=3, gamma=0.5)
    torch.testing.assert_close(shuffled[perm], out, atol=0, rtol=0)


def test_gamma_zero_gives_last_chunk_and_max_pool_bounds() -> None:
    logits = torch.randn(6, 5)
    doc_index = torch.tensor([0, 1, 0, 1, 1, 0])
    out = stateful_pool(logits, doc_index, 2, k=5, gamma=0.0)
    torch.testing.assert_close(out, logits[[5, 4]])
    assert (out <= pool_chunks(logits, doc_index, 2)).all()


def test_chunk_positions() -> None:
    pos, counts = chunk_positions(torch.tensor([1, 0, 1, 2, 0, 1]), 4)
    assert pos.tolist() == [0, 0, 1, 0, 1, 2]
    assert counts.tolist() == [2, 3, 1, 0]


def test_bad_inputs_raise() -> None:
    logits = torch.randn(3, 4)
    with pytest.raises(ValueError, match="without any chunk"):
        stateful_pool(logits, torch.tensor([0, 0, 2]), 3, k=2, gamma=1.0)
    with pytest.raises(ValueError, match="doc_index"):
        stateful_pool(logits, torch.tensor([0, 1]), 2, k=2, gamma=1.0)
    with pytest.raises(ValueError, match="doc_index values"):
        stateful_pool(logits, torch.tensor([0, 1, 5]), 2, k=2, gamma=1.0)
