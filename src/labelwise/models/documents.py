"""A model over documents: chunk rows pooled back to one row per document.

Long documents are read in chunks (``tokenizer.long_documents: chunk``): each chunk is a
row of the batch and ``Batch.doc_index`` says which document it belongs to.
:func:`forward_docs` runs the model and pools the chunk logits (max, or PLANT's stateful
decoder) and the pooled vectors and embeddings (mean) back to one row per document, the same
way in training, validation, prediction and in the losses that run a copy of the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch

from labelwise.decode import pool_chunks
from labelwise.models.stateful import stateful_pool
from labelwise.types import Batch, ModelOutput

CHUNK_POOLING_ATTR = "chunk_pooling"


@dataclass(frozen=True)
class ChunkPooling:
    """How :func:`forward_docs` turns the logits of a document's chunks into its logits.

    ``mode="max"``: the maximum over the chunks. ``mode="stateful"``: that maximum plus
    ``gamma`` times the label state carried over the chunks before the last (top ``k``
    sigmoid scores per chunk, element-wise max over the chunks read so far; see
    :func:`labelwise.models.stateful.stateful_pool`).
    """

    mode: Literal["max", "stateful"] = "max"
    k: int = 10
    gamma: float = 1.0


def set_chunk_pooling(model: torch.nn.Module, pooling: ChunkPooling) -> None:
    """Attach ``pooling`` to ``model`` (a plain attribute: not a parameter, buffer or part
    of the state dict; the config rebuilds it on load)."""
    object.__setattr__(model, CHUNK_POOLING_ATTR, pooling)


def chunk_pooling_of(model: torch.nn.Module) -> ChunkPooling:
    """The pooling attached to ``model`` (or to the module a wrapper such as
    DistributedDataParallel holds in ``.module``); max pooling when none is. A tuple
    ``("stateful", k, gamma)`` is accepted too."""
    value: Any = getattr(model, CHUNK_POOLING_ATTR, None)
    if value is None:
        inner = getattr(model, "module", None)
        value = getattr(inner, CHUNK_POOLING_ATTR, None) if inner is not None else None
    if isinstance(value, ChunkPooling):
        return value
    if isinstance(value, tuple) and value and value[0] in ("max", "stateful"):
        return ChunkPooling(*value)
    return ChunkPooling()


def pool_chunk_logits(
    logits: torch.Tensor, doc_index: torch.Tensor, num_docs: int, pooling: ChunkPooling
) -> torch.Tensor:
    """(R, L) chunk logits -> (D, L) document logits, as ``pooling`` says.

    Stateful pooling adds ``gamma * S`` to the max-pooled logits, where ``S`` is the
    carried state of the chunks before each document's last one (0 for a one-chunk
    document, so its logits are exactly the max-pooled ones). ``S`` comes from detached
    logits: the gradient is max pooling's.
    """
    pooled = pool_chunks(logits, doc_index, num_docs)
    if pooling.mode != "stateful":
        return pooled
    plain = logits.detach()
    with_state = stateful_pool(plain, doc_index, num_docs, pooling.k, pooling.gamma)
    last = stateful_pool(plain, doc_index, num_docs, pooling.k, 0.0)  # the last chunk's logits
    return pooled + (with_state - last)


def forward_docs(model: torch.nn.Module, batch: Batch) -> ModelOutput:
    """Run the model; when documents are chunked, pool chunk logits, pooled vectors and
    embeddings (mean) back to one row per document.

    Chunk logits are max-pooled, or with ``ChunkPooling(mode="stateful")`` attached to the
    model (:func:`set_chunk_pooling`; ``model.chunk_pooling: stateful`` in a config)
    max-pooled plus the carried label state of PLANT's stateful decoder
    (:func:`pool_chunk_logits`). The same pooling applies in training and prediction: the
    state is detached, so only the max-pooled term carries gradient and every chunk keeps
    learning (a stateful decoder trained on the last chunk's logits alone would train only
    that chunk).
    """
    out: ModelOutput = model(batch.input_ids, batch.attention_mask)
    if batch.doc_index is None:
        return out
    n = batch.num_docs
    out.logits = pool_chunk_logits(out.logits, batch.doc_index, n, chunk_pooling_of(model))
    counts = torch.bincount(batch.doc_index, minlength=n).clamp(min=1)[:, None]  # (B, 1)
    for name in ("pooled", "embeddings"):
        rows = getattr(out, name)
        if rows is not None:  # (R, d) per chunk -> (B, d) mean per document
            summed = torch.zeros(n, rows.shape[1], dtype=rows.dtype, device=rows.device)
            setattr(out, name, summed.index_add(0, batch.doc_index, rows) / counts)
    return out
