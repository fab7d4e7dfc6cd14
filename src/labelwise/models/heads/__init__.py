"""Heads: ``EncoderOutput -> ModelOutput`` with logits (B, L). Importing registers them."""

from labelwise.models.heads.base import Head, PrepareData
from labelwise.models.heads.label_attention import LabelAttentionHead, label_attention_chunk
from labelwise.models.heads.linear import LinearHead
from labelwise.models.heads.plant import PlantHead

__all__ = ["Head", "LabelAttentionHead", "LinearHead", "PlantHead", "PrepareData", "label_attention_chunk"]
