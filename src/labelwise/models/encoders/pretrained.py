"""A pretrained Hugging Face encoder (all-MiniLM-L6-v2 by default), fine-tuned or frozen."""

from __future__ import annotations

import contextlib
from typing import ClassVar, Literal

import torch
from pydantic import BaseModel, ConfigDict, NonNegativeInt, PositiveInt
from torch import nn

from labelwise.models.encoders.common import pool
from labelwise.models.pretrained_models import encoder_folder, quiet_transformers
from labelwise.registry import ENCODERS
from labelwise.types import EncoderOutput


@ENCODERS.register("pretrained")
class PretrainedEncoder(nn.Module):
    """A pretrained encoder, fine-tuned or frozen: a preset (``minilm-l6``: all-MiniLM-L6-v2,
    6 layers, width 384, the default; ``minilm-l3``: paraphrase-MiniLM-L3-v2), a local Hugging
    Face model folder, or a hub id (:mod:`labelwise.models.pretrained_models`).

    Uses the model's own tokenizer (``tokenizer = "pretrained"``: read by ``AutoTokenizer``
    from the same folder and saved in the run directory), so ``vocab_size`` and ``pad_id``
    are ignored. When frozen, the model runs in eval mode under ``no_grad`` even while the
    classifier trains, and none of its parameters requires a gradient.

    Args:
        vocab_size: ignored (MiniLM's vocabulary is fixed).
        pad_id: ignored (MiniLM pads with id 0).
        config: see ``PretrainedEncoder.Config``.
    """

    tokenizer: ClassVar[str] = "pretrained"

    class Config(BaseModel):
        """Options of the pretrained encoder."""

        model_config = ConfigDict(extra="forbid")

        freeze: bool = False
        pooling: Literal["mean", "cls"] = "mean"  # mean: as sentence-transformers does
        # a preset (minilm-l6, minilm-l3), a Hugging Face model folder, or a hub id
        model: str = "minilm-l6"
        path: str | None = None  # a model folder: the same as `model` (kept for older configs)
        # keep only the first `layers` transformer layers (None: all): a shallower, faster
        # model that still starts from the pretrained weights
        layers: PositiveInt | None = None
        # fine-tuning only: keep the embeddings and the lowest `freeze_layers` layers fixed.
        # Their backward pass is skipped (fewer FLOPs per step) and the pretrained low-level
        # features are kept; 0 trains every layer
        freeze_layers: NonNegativeInt = 0

    def __init__(
        self, vocab_size: int, pad_id: int, config: PretrainedEncoder.Config | None = None
    ) -> None:
        super().__init__()
        from transformers import AutoModel

        self.config = config = config or PretrainedEncoder.Config()
        path = encoder_folder({"name": "pretrained", **config.model_dump()})
        with quiet_transformers():
            try:  # the pooler is unused (we pool ourselves): leaving it out keeps every
                # trainable parameter on the gradient path
                self.model = AutoModel.from_pretrained(str(path), local_files_only=True,
                                                       add_pooling_layer=False).float()
            except TypeError:  # an architecture without a pooler option
                self.model = AutoModel.from_pretrained(str(path), local_files_only=True).float()
        self.out_dim = int(self.model.config.hidden_size)
        c = self.model.config
        # RoBERTa-style models number positions after the padding id
        offset = int(c.pad_token_id) + 1 if c.model_type in ("roberta", "xlm-roberta", "camembert") else 0
        self.max_positions = int(getattr(c, "max_position_embeddings", 512)) - offset
        if config.layers is not None:
            total = len(self.model.encoder.layer)
            if config.layers > total:
                raise ValueError(f"model.encoder.layers: {config.layers}, but the model has {total} layers")
            self.model.encoder.layer = self.model.encoder.layer[: config.layers]
            self.model.config.num_hidden_layers = config.layers
        if config.freeze_layers:
            total = len(self.model.encoder.layer)
            if config.freeze_layers > total:
                raise ValueError(f"model.encoder.freeze_layers: {config.freeze_layers}, but the model "
                                 f"has {total} layers (freeze: true freezes the whole encoder)")
            self.model.embeddings.requires_grad_(False)
            for layer in self.model.encoder.layer[: config.freeze_layers]:
                layer.requires_grad_(False)
        if config.freeze:
            self.model.requires_grad_(False)
        # from_pretrained returns eval mode; start in train mode like any new module
        # (a frozen model is kept in eval mode by ``train``)
        self.train()

    @property
    def frozen(self) -> bool:
        """True when the output depends on the input only (no dropout, no training):
        the trainer may then cache it."""
        return self.config.freeze

    def train(self, mode: bool = True) -> PretrainedEncoder:
        """Like ``nn.Module.train``, but a frozen model stays in eval mode (no dropout)."""
        super().train(mode)
        if self.config.freeze:
            self.model.eval()
        return self

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> EncoderOutput:
        """Encode (B, T) MiniLM ids with a (B, T) bool mask into an ``EncoderOutput``."""
        mask = attention_mask.bool()
        frozen = torch.no_grad() if self.config.freeze else contextlib.nullcontext()
        with frozen:
            out = self.model(input_ids=input_ids, attention_mask=mask.long())
        h = out.last_hidden_state  # (B, T, 384)
        return EncoderOutput(token_states=h, mask=mask, pooled=pool(h, mask, self.config.pooling))
