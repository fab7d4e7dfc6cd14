"""Bidirectional recurrent encoders over packed sequences: ``bilstm`` and ``bigru``."""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from pydantic import Field, PositiveInt
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from labelwise.models.encoders.common import pool
from labelwise.models.glove import WordEmbeddingsConfig, copy_into_embedding
from labelwise.registry import ENCODERS
from labelwise.types import EncoderOutput


@ENCODERS.register("bilstm")
class BiLSTMEncoder(nn.Module):
    """Embeddings and a bidirectional LSTM; pooled by masked mean (or max) over time.

    Sequences are packed by their lengths, so the backward direction starts at each
    document's last real token and trailing pads never enter the recurrence. Padding must
    be on the right (the mask is a prefix of True values).

    ``embeddings: glove`` starts the token embeddings from GloVe 6B 50-d (``embed_dim`` is
    then 50, filled in when unset); the backend copies them in with
    :meth:`load_pretrained_embeddings` when it builds the model for training.
    ``freeze_embeddings`` keeps the embedding table fixed (no gradient).

    Args:
        vocab_size: number of token ids.
        pad_id: id of the padding token.
        config: hyperparameters, see ``BiLSTMEncoder.Config``.
    """

    tokenizer: ClassVar[str] = "wordpiece"
    cell: ClassVar[type[nn.LSTM] | type[nn.GRU]] = nn.LSTM

    class Config(WordEmbeddingsConfig):
        """Hyperparameters of the recurrent encoder (the embedding fields are shared)."""

        hidden_dim: PositiveInt = Field(
            default=128, description="Width per direction; the output width is `2 * hidden_dim`"
        )
        num_layers: PositiveInt = Field(default=1, description="Stacked recurrent layers")
        dropout: float = Field(
            default=0.2, ge=0.0, lt=1.0,
            description="On the embeddings and the outputs, and between layers when "
            "`num_layers` is above 1",
        )
        pooling: Literal["mean", "max"] = Field(default="mean", description="Masked pooling over time")

    def __init__(
        self, vocab_size: int, pad_id: int, config: BiLSTMEncoder.Config | None = None
    ) -> None:
        super().__init__()
        self.config = config = config or type(self).Config()
        self.embed = nn.Embedding(vocab_size, config.embed_dim, padding_idx=pad_id)
        self.embed.weight.requires_grad_(not config.freeze_embeddings)
        rnn = self.cell(
            config.embed_dim,
            config.hidden_dim,
            num_layers=config.num_layers,
            batch_first=True,
            bidirectional=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        # named after the cell ("lstm" / "gru"), so the weights keep their checkpoint keys
        self.rnn_name = type(self).cell.__name__.lower()
        self.add_module(self.rnn_name, rnn)
        self.drop = nn.Dropout(config.dropout)
        self.out_dim = 2 * config.hidden_dim

    def load_pretrained_embeddings(self, matrix: torch.Tensor) -> None:
        """Copy a (V, embed_dim) matrix (e.g. GloVe's, :mod:`labelwise.models.glove`) into
        the token embeddings; the pad row stays zero; frozen if ``freeze_embeddings``."""
        copy_into_embedding(self.embed, matrix, self.config.freeze_embeddings)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> EncoderOutput:
        """Encode (B, T) ids with a (B, T) bool mask into an ``EncoderOutput``."""
        mask = attention_mask.bool()
        T = input_ids.shape[1]
        x = self.drop(self.embed(input_ids))  # (B, T, e)
        # pack_padded_sequence rejects empty sequences: an all-pad row runs over one step,
        # and its states are masked out by the pooling anyway
        lengths = mask.sum(dim=1).clamp_min(1).cpu()  # (B,)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.get_submodule(self.rnn_name)(packed)
        h, _ = pad_packed_sequence(out, batch_first=True, total_length=T)  # (B, T, 2 * hid)
        h = h * mask.unsqueeze(-1)  # zero the all-pad row's single step too
        pooled = pool(h, mask, self.config.pooling)  # (B, 2 * hid)
        return EncoderOutput(token_states=self.drop(h), mask=mask, pooled=self.drop(pooled))


@ENCODERS.register("bigru")
class BiGRUEncoder(BiLSTMEncoder):
    """The ``bilstm`` encoder with GRU cells: three gates to the LSTM's four, so at equal
    widths 3/4 of the recurrent weights and work. Same options, packing and pooling."""

    cell: ClassVar[type[nn.LSTM] | type[nn.GRU]] = nn.GRU

    class Config(BiLSTMEncoder.Config):
        """Hyperparameters of the BiGRU encoder."""
