"""labelwise: text classification for every label structure.

Public API::

    from labelwise import TextClassifier, load_config
    clf = TextClassifier({"model": {"encoder": {"name": "cnn"}}}).fit(texts, labels)
    clf.predict(["a new text"])

The names below are imported on first use, so ``labelwise --help`` and the command's
checks of its options answer without loading PyTorch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from labelwise.components import load_config
    from labelwise.config import Config, ConfigError
    from labelwise.estimator import TextClassifier
    from labelwise.types import Batch, EncoderOutput, Example, LossOutput, ModelOutput, Task
    from labelwise.version import __version__

_WHERE = {
    "Batch": "labelwise.types",
    "Config": "labelwise.config",
    "ConfigError": "labelwise.config",
    "EncoderOutput": "labelwise.types",
    "Example": "labelwise.types",
    "LossOutput": "labelwise.types",
    "ModelOutput": "labelwise.types",
    "Task": "labelwise.types",
    "TextClassifier": "labelwise.estimator",
    "__version__": "labelwise.version",
    "load_config": "labelwise.components",
}

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


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'labelwise' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
