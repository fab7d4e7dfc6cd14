"""A model over documents: chunk rows pooled back to one row per document.

Long documents are read in chunks (``tokenizer.long_documents: chunk``): each chunk is a
row of the batch and ``Batch.doc_index`` says which document it belongs to. The
:class:`~labelwise.models.classifier.Classifier` owns the document: its forward pools the
chunk logits with its ``chunk_pooling`` component (:mod:`labelwise.models.pooling`) and
the pooled vectors and embeddings by their mean (:func:`pool_rows`), so training,
validation, prediction, profiling, the service and the losses that run a copy of the model
all score documents the same way. :func:`forward_docs` runs any model on a batch.
"""

from __future__ import annotations

import torch
from torch import nn

from labelwise.models.pooling import ChunkPooling, MaxPooling, make_pooling, pool_chunk_logits
from labelwise.types import Batch, ModelOutput

__all__ = ["ChunkPooling", "chunk_pooling_of", "forward_docs", "pool_chunk_logits", "pool_rows",
           "set_chunk_pooling"]

CHUNK_POOLING_ATTR = "chunk_pooling"


def set_chunk_pooling(model: nn.Module, pooling: ChunkPooling) -> None:
    """Give ``model`` the pooling component for ``pooling`` (a submodule without
    parameters: nothing enters the state dict; the config rebuilds it on load)."""
    setattr(model, CHUNK_POOLING_ATTR, make_pooling(pooling))


def _pooling_module(model: nn.Module) -> nn.Module | None:
    """``model``'s pooling component, or that of the module a wrapper (such as
    DistributedDataParallel) holds in ``.module``; None when neither has one."""
    for m in (model, getattr(model, "module", None)):
        found = getattr(m, CHUNK_POOLING_ATTR, None) if m is not None else None
        if isinstance(found, nn.Module):
            return found
    return None


def chunk_pooling_of(model: nn.Module) -> ChunkPooling:
    """The pooling ``model`` applies (max pooling when it has none)."""
    found = _pooling_module(model)
    spec = getattr(found, "spec", None)
    return spec if isinstance(spec, ChunkPooling) else ChunkPooling()


def pool_rows(out: ModelOutput, doc_index: torch.Tensor, pooling: nn.Module) -> ModelOutput:
    """Chunk rows -> document rows: logits by ``pooling``, the pooled vectors and
    embeddings by their mean over each document's chunks."""
    n = int(doc_index.max()) + 1 if doc_index.numel() else 0
    out.logits = pooling(out.logits, doc_index, n)
    counts = torch.bincount(doc_index, minlength=n).clamp(min=1)[:, None]  # (D, 1)
    for name in ("pooled", "embeddings"):
        rows = getattr(out, name)
        if rows is not None:  # (R, d) per chunk -> (D, d) mean per document
            summed = torch.zeros(n, rows.shape[1], dtype=rows.dtype, device=rows.device)
            setattr(out, name, summed.index_add(0, doc_index, rows) / counts)
    return out


def forward_docs(model: nn.Module, batch: Batch) -> ModelOutput:
    """Run ``model`` on a batch; one output row per document.

    A model that reads documents (``reads_documents``: the Classifier, and the trainer's
    data-parallel wrapper of it) is given ``doc_index`` and pools inside its forward. Any
    other module is run on the rows, which are then pooled here with its pooling component
    (max pooling when it has none).
    """
    if batch.doc_index is None:
        out: ModelOutput = model(batch.input_ids, batch.attention_mask)
        return out
    if getattr(model, "reads_documents", False):
        out = model(batch.input_ids, batch.attention_mask, batch.doc_index)
        return out
    pooling = _pooling_module(model) or MaxPooling()
    return pool_rows(model(batch.input_ids, batch.attention_mask), batch.doc_index, pooling)
