"""labelwise: text classification for every label structure.

Public API::

    from labelwise import TextClassifier, load_config
    clf = TextClassifier({"model": {"encoder": {"name": "cnn"}}}).fit(texts, labels)
    clf.predict(["a new text"])
"""

from labelwise.config import Config, ConfigError, load_config
from labelwise.estimator import TextClassifier
from labelwise.types import Batch, EncoderOutput, Example, LossOutput, ModelOutput, Task

__version__ = "0.1.0"

__all__ = [
    "Batch",
    "Config",
    "ConfigError",
    "EncoderOutput",
    "Example",
    "LossOutput",
    "ModelOutput",
    "Task",
    "TextClassifier",
    "__version__",
    "load_config",
]
