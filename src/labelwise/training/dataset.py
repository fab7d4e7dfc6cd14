"""Token ids and targets held in memory, cut into batches, and batched inference."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from labelwise import distributed
from labelwise.data.collate import batch_order, collate
from labelwise.models.documents import (  # noqa: F401  (re-exported: the training API)
    ChunkPooling,
    chunk_pooling_of,
    forward_docs,
    pool_chunk_logits,
    set_chunk_pooling,
)
from labelwise.models.heads.label_subset import shortlisted_logits
from labelwise.types import Batch


@dataclass
class EncodedSet:
    """docs[i] is a list of chunks (one when truncating), each a list of token ids.
    targets: (N,) int64 class ids, (N, L) float32 multi-hot, or None (unlabeled).
    candidates: (N, S) int64, each document's shortlisted label ids (``model.shortlist``),
    carried into its batches; None: every label is scored."""

    docs: list[list[list[int]]]
    targets: np.ndarray | None
    pad_id: int
    candidates: np.ndarray | None = None

    def _collate(self, idx: np.ndarray) -> Batch:
        tgt = None if self.targets is None else self.targets[idx]
        batch = collate([self.docs[i] for i in idx], self.pad_id, tgt)
        if self.candidates is not None:
            batch.candidates = torch.from_numpy(self.candidates[idx])
        return batch

    def __len__(self) -> int:
        return len(self.docs)

    @property
    def lengths(self) -> list[int]:
        return [sum(len(c) for c in d) for d in self.docs]

    def batches(
        self,
        batch_size: int,
        shuffle: bool,
        rng: np.random.Generator | None = None,
        skip: int = 0,
    ) -> Iterator[tuple[np.ndarray, Batch]]:
        """Collated batches; the first ``skip`` of the order are passed over uncollated."""
        order = batch_order(self.lengths, batch_size, shuffle, rng)
        for idx in itertools.islice(order, skip, None):
            yield idx, self._collate(idx)

    def num_batches(self, batch_size: int, world_size: int = 1) -> int:
        """Batches per epoch; with ``world_size`` processes, the ones that have a
        document for every process (see :meth:`process_batches`)."""
        full, rest = divmod(len(self.docs), batch_size)
        return full + (1 if rest >= world_size else 0)

    def process_batches(
        self,
        batch_size: int,
        rng: np.random.Generator,
        skip: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> Iterator[tuple[np.ndarray, Batch, int]]:
        """Shuffled training batches, each cut across ``world_size`` processes.

        Every process draws the same batch order from ``rng`` (seeded alike) and takes
        the contiguous slice ``rank`` of each batch
        (:func:`labelwise.distributed.split_rows`), so the processes together train on
        exactly the batches of one process, and gathering the slices in rank order gives
        each batch in its order. A batch with fewer documents than processes (only the
        last, smaller one can be) is passed over by every process alike: each step needs
        every process. The first ``skip`` batches are passed over uncollated.

        Yields ``(idx, batch, global_size)``: this process's document indices, their
        collated batch, and the number of documents in the whole batch. With one process
        the batches are exactly :meth:`batches`' (``shuffle=True``).
        """
        order = (idx for idx in batch_order(self.lengths, batch_size, True, rng) if len(idx) >= world_size)
        for idx in itertools.islice(order, skip, None):
            mine = idx[distributed.split_rows(len(idx), rank, world_size)]
            yield mine, self._collate(mine), len(idx)


def two_views(batch: Batch) -> Batch:
    """The batch twice over, ``[batch; batch]``: run in training mode, dropout makes the
    two copies two views of each document (SimCSE). Documents ``0..B-1`` are the first
    view and ``B..2B-1`` the second; targets are repeated to match, so each view's
    positives include the other view of the same document."""
    n = batch.num_docs
    targets = None if batch.targets is None else torch.cat([batch.targets, batch.targets])
    doc_index = None if batch.doc_index is None else torch.cat([batch.doc_index, batch.doc_index + n])
    ids, mask = batch.input_ids, batch.attention_mask
    cands = None if batch.candidates is None else torch.cat([batch.candidates, batch.candidates])
    return Batch(torch.cat([ids, ids]), torch.cat([mask, mask]), targets, doc_index, cands)


def predict_logits(
    model: torch.nn.Module,
    data: EncodedSet,
    batch_size: int,
    device: torch.device,
    on_batch: Callable[[int], None] | None = None,
    shard: bool = False,
) -> np.ndarray:
    """Logits for every document, in the original order. Returns (N, L) float32.

    ``shard=True`` under ``torch.distributed``: every process predicts its contiguous
    share of the documents (:func:`labelwise.distributed.shard_indices`) and the shares
    are gathered, so every process returns all the logits. Every process must call it
    (a collective operation). ``on_batch`` then counts this process's documents.
    """
    if shard and distributed.is_distributed():
        idx = distributed.shard_indices(len(data))
        if len(idx) < len(data):
            part = EncodedSet([data.docs[i] for i in idx], None, data.pad_id,
                              None if data.candidates is None else data.candidates[idx])
            local = predict_logits(model, part, batch_size, device, on_batch)
            return distributed.all_gather_rows(torch.from_numpy(local)).numpy()
    model.eval()
    result: np.ndarray | None = None
    with torch.inference_mode():
        for idx, batch in data.batches(batch_size, shuffle=False):
            batch = batch.to(device)
            if batch.candidates is None:
                logits = forward_docs(model, batch).logits.float().cpu().numpy()
            else:  # the shortlist's labels alone are scored
                head = getattr(model, "head", model)
                score = functools.partial(_logits_of, model, batch)
                logits = shortlisted_logits(head, batch.candidates, score).float().cpu().numpy()
            if result is None:
                result = np.zeros((len(data), logits.shape[1]), dtype=np.float32)
            result[idx] = logits
            if on_batch is not None:
                on_batch(len(idx))
    if result is None:
        raise ValueError("nothing to predict: the input has no documents")
    return result


def _logits_of(model: torch.nn.Module, batch: Batch) -> torch.Tensor:
    return forward_docs(model, batch).logits


def predict_embeddings(
    model: torch.nn.Module, data: EncodedSet, batch_size: int, device: torch.device, which: str = "pooled"
) -> np.ndarray:
    """Each document's pooled vector (``which="pooled"``) or contrastive projection
    (``"embeddings"``), in the original order. Returns (N, d) float32."""
    if which not in ("pooled", "embeddings"):
        raise ValueError(f"which must be 'pooled' or 'embeddings', got {which!r}")
    model.eval()
    result: np.ndarray | None = None
    with torch.inference_mode():
        for idx, batch in data.batches(batch_size, shuffle=False):
            rows = getattr(forward_docs(model, batch.to(device)), which)
            if rows is None:
                raise ValueError(f"the model gives no {which}: embeddings need a projection head")
            rows = rows.float().cpu().numpy()
            if result is None:
                result = np.zeros((len(data), rows.shape[1]), dtype=np.float32)
            result[idx] = rows
    if result is None:
        raise ValueError("nothing to embed: the input has no documents")
    return result
