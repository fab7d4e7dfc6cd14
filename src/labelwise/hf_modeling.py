"""A labelwise classifier as a Hugging Face ``transformers`` model (``modeling_labelwise.py``).

``labelwise export RUN --format hf`` copies this file's source into the export folder, so
that ``AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True)``
and ``pipeline("text-classification", model=folder, trust_remote_code=True)`` load the run
without labelwise: the pretrained encoder (any ``AutoModel``), the run's pooling of its
token states (mean over real tokens, or the first token), and the run's linear head.

It imports torch and transformers only, never labelwise.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput


class LabelwiseConfig(PretrainedConfig):
    """The encoder's own config (``encoder``, a dict with its ``model_type``), the pooling,
    and the head's hidden width (None: one linear layer)."""

    model_type = "labelwise"

    def __init__(self, encoder: dict[str, Any] | None = None, pooling: str = "mean",
                 head_hidden_dim: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.encoder = encoder or {}
        self.pooling = pooling
        self.head_hidden_dim = head_hidden_dim


class LabelwiseForSequenceClassification(PreTrainedModel):
    """Encoder -> pooled vector -> the run's linear head -> logits (B, num_labels)."""

    config_class = LabelwiseConfig
    base_model_prefix = "encoder"

    def __init__(self, config: LabelwiseConfig) -> None:
        super().__init__(config)
        enc = dict(config.encoder)
        encoder_config = AutoConfig.for_model(enc.pop("model_type"), **enc)
        try:  # the run pooled the token states itself: no pooler, as in training
            self.encoder = AutoModel.from_config(encoder_config, add_pooling_layer=False)
        except TypeError:  # an architecture without a pooler option
            self.encoder = AutoModel.from_config(encoder_config)
        hidden = int(self.encoder.config.hidden_size)
        layers: list[nn.Module] = [nn.Dropout(0.0)]  # the run's head, layer for layer
        if config.head_hidden_dim:
            layers += [nn.Linear(hidden, config.head_hidden_dim), nn.Tanh(), nn.Dropout(0.0)]
            hidden = config.head_hidden_dim
        layers.append(nn.Linear(hidden, config.num_labels or 0))
        self.head = nn.Sequential(*layers)
        self.post_init()

    def forward(self, input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                labels: torch.Tensor | None = None, **kwargs: Any) -> SequenceClassifierOutput:
        assert input_ids is not None
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if self.config.pooling == "cls":
            pooled = states[:, 0]
        else:  # the mean over real tokens
            mask = attention_mask.to(states.dtype).unsqueeze(-1)
            pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return SequenceClassifierOutput(logits=self.head(pooled))
