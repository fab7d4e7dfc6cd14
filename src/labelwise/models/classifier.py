"""The classifier: an encoder followed by a head."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from labelwise.models.documents import pool_rows
from labelwise.models.pooling import MaxPooling
from labelwise.models.precision import autocast
from labelwise.types import EncoderOutput, ModelOutput


class Classifier(nn.Module):
    """Encoder then head; the output also carries the encoder's pooled vector, and with a
    projection the contrastive embeddings.

    Args:
        encoder: maps ``(input_ids, attention_mask)`` to an ``EncoderOutput``.
        head: maps an ``EncoderOutput`` to a ``ModelOutput`` with logits (B, L).
        projection: optional module mapping the pooled vector (B, d) to the embeddings
            (B, p) that contrastive losses compare (``ModelOutput.embeddings``).
        spec: optional JSON-able description of how the model was built (the arguments of
            ``build_model``), kept so a checkpoint can rebuild it without pickling.
        chunk_pooling: how chunk logits become document logits
            (:mod:`labelwise.models.pooling`); max pooling by default.
    """

    reads_documents = True  # forward takes doc_index and returns one row per document

    def __init__(
        self,
        encoder: nn.Module,
        head: nn.Module,
        spec: dict[str, Any] | None = None,
        projection: nn.Module | None = None,
        chunk_pooling: nn.Module | None = None,
    ):
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.projection = projection
        self.chunk_pooling = chunk_pooling if chunk_pooling is not None else MaxPooling()
        self.spec = spec
        # bf16 autocast of the encoder and head where the hardware computes it natively
        # (labelwise.models.precision); None: float32. Outputs are float32 either way
        self.compute_dtype: torch.dtype | None = None

    @property
    def tokenizer_kind(self) -> str:
        """Which tokenizer the encoder expects: "wordpiece", or its pretrained model's own ("pretrained", "minilm")."""
        return str(getattr(self.encoder, "tokenizer", "wordpiece"))

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> EncoderOutput:
        """Run the encoder only: (B, T) ids and (B, T) mask -> ``EncoderOutput``."""
        with autocast(self.compute_dtype, input_ids.device.type):
            enc: EncoderOutput = self.encoder(input_ids, attention_mask.bool())
        if enc.input_ids is None:
            enc.input_ids = input_ids
        if self.compute_dtype is not None:
            enc.token_states, enc.pooled = enc.token_states.float(), enc.pooled.float()
        return enc

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, doc_index: torch.Tensor | None = None
    ) -> ModelOutput:
        """Logits (B, L) for (B, T) ids; ``attention_mask`` (B, T) is True on real tokens.

        With ``doc_index`` (R,) the rows are chunks of documents (``doc_index[r]`` is row r's
        document, chunks in reading order): the output has one row per document, logits
        pooled by ``chunk_pooling`` and the pooled vector and embeddings by their mean."""
        enc = self.encode(input_ids, attention_mask)
        with autocast(self.compute_dtype, input_ids.device.type):
            out: ModelOutput = self.head(enc)
            if out.pooled is None:
                out.pooled = enc.pooled  # (B, d), for contrastive projections
            if self.projection is not None and out.embeddings is None:
                out.embeddings = self.projection(out.pooled)  # (B, p)
        if self.compute_dtype is not None:  # losses and metrics see float32
            out.logits = out.logits.float()
            out.pooled = out.pooled.float()
            out.embeddings = None if out.embeddings is None else out.embeddings.float()
        if doc_index is not None:
            out = pool_rows(out, doc_index, self.chunk_pooling)
        return out
