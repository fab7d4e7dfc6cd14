"""Models: encoders, heads, the ``Classifier`` that joins them, and ``build_model``.

Importing this package registers every encoder and head in ``labelwise.registry``.
"""

from labelwise.models import encoders, heads, pooling
from labelwise.models.classifier import Classifier
from labelwise.models.factory import build_model, encoder_tokenizer_kind

__all__ = ["Classifier", "build_model", "encoder_tokenizer_kind", "encoders", "heads", "pooling"]
