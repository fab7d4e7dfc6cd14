"""A transformer encoder trained from scratch: learned positions, pre-norm, global attention."""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator
from torch import nn

from labelwise.models.encoders.common import TransformerBlock, check_length, pool
from labelwise.registry import ENCODERS
from labelwise.types import EncoderOutput


@ENCODERS.register("transformer")
class TransformerEncoder(nn.Module):
    """Token and learned position embeddings, ``n_layers`` pre-norm blocks, final LayerNorm.

    Attention is global (every token sees every real token) with a key padding mask, so
    trailing pads change nothing for real tokens. Subclasses can override ``make_block`` to
    swap in a different block (e.g. with a local attention branch).

    Args:
        vocab_size: number of token ids.
        pad_id: id of the padding token.
        config: hyperparameters, see ``TransformerEncoder.Config``.
    """

    tokenizer: ClassVar[str] = "wordpiece"

    class Config(BaseModel):
        """Hyperparameters of the transformer encoder."""

        model_config = ConfigDict(extra="forbid")

        d_model: PositiveInt = 256
        n_layers: PositiveInt = 2
        n_heads: PositiveInt = 4
        d_ff: PositiveInt | None = None  # None: 4 * d_model
        dropout: float = Field(default=0.1, ge=0.0, lt=1.0)
        max_len: PositiveInt = 512
        pooling: Literal["mean", "cls"] = "mean"

        @model_validator(mode="after")
        def _heads_divide_width(self) -> TransformerEncoder.Config:
            if self.d_model % self.n_heads != 0:
                raise ValueError(
                    f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})"
                )
            return self

    def __init__(
        self, vocab_size: int, pad_id: int, config: TransformerEncoder.Config | None = None
    ) -> None:
        super().__init__()
        self.config = config = config or type(self).Config()
        d = config.d_model
        self.tok_embed = nn.Embedding(vocab_size, d, padding_idx=pad_id)
        self.pos_embed = nn.Embedding(config.max_len, d)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(self.make_block(i) for i in range(config.n_layers))
        self.ln_f = nn.LayerNorm(d)
        self.out_dim = d
        self.apply(self._init_weights)

    def make_block(self, layer: int) -> nn.Module:
        """The block at depth ``layer``; its forward is ``(x, key_padding_mask) -> x``."""
        c = self.config
        return TransformerBlock(c.d_model, c.n_heads, c.d_ff or 4 * c.d_model, c.dropout)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)
            if module.padding_idx is not None:
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> EncoderOutput:
        """Encode (B, T) ids with a (B, T) bool mask into an ``EncoderOutput``."""
        mask = attention_mask.bool()
        T = check_length(input_ids.shape[1], self.config.max_len)
        pos = torch.arange(T, device=input_ids.device)  # (T,)
        x = self.drop(self.tok_embed(input_ids) + self.pos_embed(pos))  # (B, T, d)
        for block in self.blocks:
            x = block(x, mask)
        h = self.ln_f(x)  # (B, T, d)
        return EncoderOutput(token_states=h, mask=mask, pooled=pool(h, mask, self.config.pooling))
