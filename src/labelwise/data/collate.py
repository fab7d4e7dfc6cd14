"""Pad token-id lists into a :class:`~labelwise.types.Batch`, and order documents into batches."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from labelwise.types import Batch


def pad_ids(seqs: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(R,) ragged lists -> input_ids (R, T) long and attention_mask (R, T) bool."""
    width = max(1, max(len(s) for s in seqs))
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.as_tensor(s, dtype=torch.long)
    lengths = torch.as_tensor([len(s) for s in seqs])
    mask = torch.arange(width)[None, :] < lengths[:, None]  # (R, T)
    return ids, mask


def collate(
    docs: Sequence[Sequence[Sequence[int]]],
    pad_id: int,
    targets: np.ndarray | None = None,
) -> Batch:
    """Documents, each a list of chunks of ids, into one batch.

    With one chunk per document the batch rows are the documents. With several, every
    chunk is a row and ``doc_index`` (R,) maps rows back to their document.
    """
    rows = [chunk for doc in docs for chunk in doc]
    ids, mask = pad_ids(rows, pad_id)
    doc_index = None
    if len(rows) != len(docs):
        doc_index = torch.repeat_interleave(
            torch.arange(len(docs)), torch.as_tensor([len(d) for d in docs])
        )
    tgt = None if targets is None else torch.from_numpy(np.ascontiguousarray(targets))
    return Batch(ids, mask, tgt, doc_index)


def batch_order(
    lengths: Sequence[int],
    batch_size: int,
    shuffle: bool,
    rng: np.random.Generator | None = None,
    pool: int = 50,
) -> Iterator[np.ndarray]:
    """Index batches. Documents of similar length go together to cut padding: shuffled
    pools of ``pool`` batches are sorted by length, cut, and the batches shuffled again."""
    n = len(lengths)
    lens = np.asarray(lengths)
    if not shuffle:
        order = np.argsort(-lens, kind="stable")
        for s in range(0, n, batch_size):
            yield order[s : s + batch_size]
        return
    if rng is None:
        raise ValueError("batch_order(shuffle=True) needs a seeded numpy Generator as rng")
    perm = rng.permutation(n)
    batches: list[np.ndarray] = []
    span = batch_size * pool
    for s in range(0, n, span):
        part = perm[s : s + span]
        part = part[np.argsort(-lens[part], kind="stable")]
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    for b in rng.permutation(len(batches)):
        yield batches[b]
