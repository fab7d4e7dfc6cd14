"""Bidirectional LSTM encoder over packed sequences."""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, PositiveInt
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from labelwise.models.encoders.common import pool
from labelwise.registry import ENCODERS
from labelwise.types import EncoderOutput


@ENCODERS.register("bilstm")
class BiLSTMEncoder(nn.Module):
    """Embeddings and a bidirectional LSTM; pooled by masked mean (or max) over time.

    Sequences are packed by their lengths, so the backward direction starts at each
    document's last real token and trailing pads never enter the recurrence. Padding must
    be on the right (the mask is a prefix of True values).

    Args:
        vocab_size: number of token ids.
        pad_id: id of the padding token.
        config: hyperparameters, see ``BiLSTMEncoder.Config``.
    """

    tokenizer: ClassVar[str] = "wordpiece"

    class Config(BaseModel):
        """Hyperparameters of the BiLSTM encoder."""

        model_config = ConfigDict(extra="forbid")

        embed_dim: PositiveInt = 128
        hidden_dim: PositiveInt = 128  # per direction
        num_layers: PositiveInt = 1
        dropout: float = Field(default=0.2, ge=0.0, lt=1.0)
        pooling: Literal["mean", "max"] = "mean"

    def __init__(
        self, vocab_size: int, pad_id: int, config: BiLSTMEncoder.Config | None = None
    ) -> None:
        super().__init__()
        self.config = config = config or BiLSTMEncoder.Config()
        self.embed = nn.Embedding(vocab_size, config.embed_dim, padding_idx=pad_id)
        self.lstm = nn.LSTM(
            config.embed_dim,
            config.hidden_dim,
            num_layers=config.num_layers,
            batch_first=True,
            bidirectional=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        self.drop = nn.Dropout(config.dropout)
        self.out_dim = 2 * config.hidden_dim

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> EncoderOutput:
        """Encode (B, T) ids with a (B, T) bool mask into an ``EncoderOutput``."""
        mask = attention_mask.bool()
        T = input_ids.shape[1]
        x = self.drop(self.embed(input_ids))  # (B, T, e)
        # pack_padded_sequence rejects empty sequences: an all-pad row runs over one step,
        # and its states are masked out by the pooling anyway
        lengths = mask.sum(dim=1).clamp_min(1).cpu()  # (B,)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        h, _ = pad_packed_sequence(out, batch_first=True, total_length=T)  # (B, T, 2 * hid)
        h = h * mask.unsqueeze(-1)  # zero the all-pad row's single step too
        pooled = pool(h, mask, self.config.pooling)  # (B, 2 * hid)
        return EncoderOutput(token_states=self.drop(h), mask=mask, pooled=self.drop(pooled))
