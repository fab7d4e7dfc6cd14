"""Encoders: ``(input_ids, attention_mask) -> EncoderOutput``. Importing registers them."""


from labelwise.models.encoders.bilstm import BiGRUEncoder, BiLSTMEncoder
from labelwise.models.encoders.cnn import CNNEncoder
from labelwise.models.encoders.common import (
    FeedForward,
    MultiHeadSelfAttention,
    TransformerBlock,
    masked_max,
    masked_mean,
    pool,
)
from labelwise.models.encoders.multilevel import MultiLevelEncoder, MultiLevelMiniLMEncoder
from labelwise.models.encoders.pretrained import PretrainedEncoder
from labelwise.models.encoders.transformer import TransformerEncoder
from labelwise.resources import minilm_dir

__all__ = [
    "BiGRUEncoder",
    "BiLSTMEncoder",
    "CNNEncoder",
    "FeedForward",
    "MultiHeadSelfAttention",
    "MultiLevelEncoder",
    "MultiLevelMiniLMEncoder",
    "PretrainedEncoder",
    "TransformerBlock",
    "TransformerEncoder",
    "masked_max",
    "masked_mean",
    "minilm_dir",
    "pool",
]
