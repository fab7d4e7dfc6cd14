"""Token ids and targets held in memory, cut into batches, and batched inference."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from labelwise.data.collate import batch_order, collate
from labelwise.decode import pool_chunks
from labelwise.types import Batch, ModelOutput


@dataclass
class EncodedSet:
    """docs[i] is a list of chunks (one when truncating), each a list of token ids.
    targets: (N,) int64 class ids, (N, L) float32 multi-hot, or None (unlabeled)."""

    docs: list[list[list[int]]]
    targets: np.ndarray | None
    pad_id: int

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
            tgt = None if self.targets is None else self.targets[idx]
            yield idx, collate([self.docs[i] for i in idx], self.pad_id, tgt)

    def num_batches(self, batch_size: int) -> int:
        return -(-len(self.docs) // batch_size)


def forward_docs(model: torch.nn.Module, batch: Batch) -> ModelOutput:
    """Run the model; when documents are chunked, pool chunk logits (max) and pooled
    vectors (mean) back to one row per document."""
    out: ModelOutput = model(batch.input_ids, batch.attention_mask)
    if batch.doc_index is None:
        return out
    n = batch.num_docs
    out.logits = pool_chunks(out.logits, batch.doc_index, n)
    if out.pooled is not None:
        summed = torch.zeros(n, out.pooled.shape[1], dtype=out.pooled.dtype)
        summed.index_add_(0, batch.doc_index, out.pooled)
        counts = torch.bincount(batch.doc_index, minlength=n).clamp(min=1)
        out.pooled = summed / counts[:, None]  # (B, d)
    return out


def predict_logits(
    model: torch.nn.Module,
    data: EncodedSet,
    batch_size: int,
    device: torch.device,
    on_batch: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Logits for every document, in the original order. Returns (N, L) float32."""
    model.eval()
    result: np.ndarray | None = None
    with torch.inference_mode():
        for idx, batch in data.batches(batch_size, shuffle=False):
            logits = forward_docs(model, batch.to(device)).logits.float().cpu().numpy()
            if result is None:
                result = np.zeros((len(data), logits.shape[1]), dtype=np.float32)
            result[idx] = logits
            if on_batch is not None:
                on_batch(len(idx))
    if result is None:
        raise ValueError("nothing to predict: the input has no documents")
    return result
