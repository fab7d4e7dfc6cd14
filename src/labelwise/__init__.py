"""labelwise: text classification for every label structure.

Public API::

    from labelwise import TextClassifier, load_config
    clf = TextClassifier({"model": {"encoder": {"name": "cnn"}}}).fit(texts, labels)
    clf.predict(["a new text"])
"""

from labelwise.components import load_config
from labelwise.config import Config, ConfigError
from labelwise.estimator import TextClassifier
from labelwise.types import Batch, EncoderOutput, Example, LossOutput, ModelOutput, Task
from labelwise.version import __version__

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
