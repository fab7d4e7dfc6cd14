"""Kim (2014) convolutional encoder: parallel 1-D convolutions and max-over-time pooling."""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from pydantic import Field, PositiveInt
from torch import nn

from labelwise.models.encoders.common import masked_max
from labelwise.models.glove import WordEmbeddingsConfig, copy_into_embedding
from labelwise.registry import ENCODERS
from labelwise.types import EncoderOutput


def _same_pad(x: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """Zero-pad (B, C, T) on the time axis so a convolution of ``kernel_size`` keeps T.

    Even kernels get the extra zero on the right (as ``padding="same"`` does), done by hand
    to avoid PyTorch's warning about even kernels.
    """
    return F.pad(x, ((kernel_size - 1) // 2, kernel_size // 2))  # (B, C, T + k - 1)


@ENCODERS.register("cnn")
class CNNEncoder(nn.Module):
    """Kim-style CNN: embeddings, parallel convolutions, ReLU, masked max-over-time.

    Every convolution is zero-padded 'same'-style, so each keeps the sequence length T and the token
    states are the concatenated feature maps. Pad embeddings are zeroed before convolving,
    which makes trailing pads look exactly like the convolution's own zero padding.

    ``embeddings: glove`` starts the token embeddings from GloVe 6B 50-d (``embed_dim`` is
    then 50, filled in when unset); the backend copies them in with
    :meth:`load_pretrained_embeddings` when it builds the model for training.
    ``freeze_embeddings`` keeps the embedding table fixed (no gradient).

    Args:
        vocab_size: number of token ids.
        pad_id: id of the padding token.
        config: hyperparameters, see ``CNNEncoder.Config``.
    """

    tokenizer: ClassVar[str] = "wordpiece"

    class Config(WordEmbeddingsConfig):
        """Hyperparameters of the CNN encoder (the embedding fields are shared)."""

        kernel_sizes: list[PositiveInt] = Field(default=[2, 3, 4], min_length=1)
        num_filters: PositiveInt = 128
        dropout: float = Field(default=0.5, ge=0.0, lt=1.0)

    def __init__(self, vocab_size: int, pad_id: int, config: CNNEncoder.Config | None = None):
        super().__init__()
        self.config = config = config or CNNEncoder.Config()
        self.embed = nn.Embedding(vocab_size, config.embed_dim, padding_idx=pad_id)
        self.embed.weight.requires_grad_(not config.freeze_embeddings)
        self.convs = nn.ModuleList(
            nn.Conv1d(config.embed_dim, config.num_filters, k) for k in config.kernel_sizes
        )
        self.kernel_sizes = list(config.kernel_sizes)
        self.drop = nn.Dropout(config.dropout)
        self.out_dim = config.num_filters * len(config.kernel_sizes)

    def load_pretrained_embeddings(self, matrix: torch.Tensor) -> None:
        """Copy a (V, embed_dim) matrix (e.g. GloVe's, :mod:`labelwise.models.glove`) into
        the token embeddings; the pad row stays zero; frozen if ``freeze_embeddings``."""
        copy_into_embedding(self.embed, matrix, self.config.freeze_embeddings)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> EncoderOutput:
        """Encode (B, T) ids with a (B, T) bool mask into an ``EncoderOutput``."""
        mask = attention_mask.bool()
        x = self.embed(input_ids) * mask.unsqueeze(-1)  # (B, T, e), pads zeroed
        x = x.transpose(1, 2)  # (B, e, T): Conv1d wants channels first
        maps = [  # one (B, F, T) per kernel size
            F.relu(conv(_same_pad(x, k)))
            for k, conv in zip(self.kernel_sizes, self.convs, strict=True)
        ]
        h = torch.cat(maps, dim=1).transpose(1, 2)  # (B, T, F * n_kernels)
        pooled = masked_max(h, mask)  # (B, out_dim)
        return EncoderOutput(token_states=self.drop(h), mask=mask, pooled=self.drop(pooled))
