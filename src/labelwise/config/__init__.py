"""Typed run configuration: the sections (:mod:`.sections`), and YAML files with ``--set a.b=c``
overrides (:mod:`.files`).

Unknown keys and bad values are errors naming the key, what was expected and the choices.
This package is a leaf: it knows the sections, not the components. Component names and
parameters (encoder, head, loss, linear model, metric names) are checked against the
registries one layer up, by :func:`labelwise.components.load_config` (``labelwise.load_config``).
"""

from labelwise.config.files import (
    apply_override,
    build_config,
    dump_config,
    parse_value,
    read_config,
)
from labelwise.config.sections import (
    Config,
    ConfigError,
    DataConfig,
    DecodeConfig,
    ModelConfig,
    PlantConfig,
    PretrainConfig,
    ProjectionConfig,
    ShortlistConfig,
    TokenizerConfig,
    TrainConfig,
)

__all__ = [
    "Config",
    "ConfigError",
    "DataConfig",
    "DecodeConfig",
    "ModelConfig",
    "PlantConfig",
    "PretrainConfig",
    "ProjectionConfig",
    "ShortlistConfig",
    "TokenizerConfig",
    "TrainConfig",
    "apply_override",
    "build_config",
    "dump_config",
    "parse_value",
    "read_config",
]
