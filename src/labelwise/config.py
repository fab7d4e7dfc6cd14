"""Typed run configuration: pydantic models, YAML files and ``--set a.b=c`` overrides.

Unknown keys and bad values are errors naming the key, what was expected and the choices.
This module is a leaf: it knows the sections, not the components. Component names and
parameters (encoder, head, loss, linear model, metric names) are checked against the
registries one layer up, by :func:`labelwise.components.load_config`.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from labelwise.registry import format_validation_error


class ConfigError(ValueError):
    """A configuration problem: the message names the key and the fix."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(_Strict):
    """Where the texts come from."""

    dataset: str | None = Field(None, description="named dataset in the data directory")
    data_dir: str | None = Field(None, description="default: $LABELWISE_DATA or ../shared/data")
    train: str | None = Field(None, description="path to a training file (overrides dataset)")
    valid: str | None = None
    test: str | None = None
    format: str = Field("auto", description="jsonl | csv | tsv | libmultilabel | auto")
    hierarchy: str | None = Field(
        None, description="parent<TAB>child file; 'auto' = the dataset's labels_hierarchy.tsv"
    )
    hierarchy_dag: bool = Field(
        False, description="the hierarchy may give a node several parents (a DAG such as EUROVOC)"
    )
    unseen_labels: Literal["error", "ignore", "warn"] = "warn"
    valid_fraction: float = Field(0.1, gt=0, lt=1, description="carved from train if no valid")
    train_fraction: float = Field(1.0, gt=0, le=1, description=(
        "train on a seeded random part of the training set; every label of the whole set stays "
        "a class, label groups (few-shot, ...) follow the whole set's counts, and without a "
        "validation split valid_fraction is held out of the whole set first"))
    max_train: int | None = Field(None, gt=0, description="cap on training documents (as train_fraction)")
    max_eval: int | None = Field(None, gt=0, description="cap on valid/test documents")
    max_valid: int | None = Field(
        None, gt=0,
        description=(
            "cap on the validation split's documents (a seeded sample; they choose the epoch "
            "and the threshold), below max_eval: cheaper evaluations with many labels, the "
            "test split untouched"
        ),
    )


class TokenizerConfig(_Strict):
    """Text to token ids."""

    kind: Literal["auto", "wordpiece", "minilm"] = "auto"
    vocab_size: int = Field(30000, ge=100)
    min_frequency: int = Field(2, ge=1)
    lowercase: bool = True
    max_length: int = Field(128, ge=4, le=8192)
    long_documents: Literal["truncate", "chunk"] = "truncate"
    max_chunks: int = Field(4, ge=1, description="chunks per document when chunking")


class ProjectionConfig(_Strict):
    """The projection head that contrastive losses read (pooled vector -> z)."""

    dim: int = Field(128, ge=1, description="width of the contrastive embedding z")
    layers: int = Field(2, ge=1, le=2, description="1: linear; 2: linear-ReLU-linear (SimCLR)")
    hidden_dim: int | None = Field(None, ge=1, description="2 layers: hidden width (default: input)")


class ModelConfig(_Strict):
    """A neural encoder + head, or the TF-IDF linear model."""

    type: Literal["neural", "linear"] = "neural"
    encoder: dict[str, Any] = Field(default_factory=lambda: {"name": "cnn"})
    head: dict[str, Any] = Field(default_factory=lambda: {"name": "linear"})
    linear: dict[str, Any] = Field(default_factory=dict, description="TfidfLinear parameters")
    projection: ProjectionConfig | None = Field(
        None, description="contrastive projection; default: added when the loss needs it"
    )
    chunk_pooling: Literal["max", "stateful"] = Field(
        "max",
        description=(
            "with tokenizer.long_documents: chunk, how chunk logits become document logits. "
            "max: the maximum over a document's chunks. stateful: that maximum plus "
            "stateful_gamma times the label state carried over the chunks before the last "
            "(PLANT's stateful decoder, labelwise.models.stateful: per chunk the top "
            "stateful_k sigmoid scores, element-wise max over the chunks read so far). The "
            "state is detached, so training keeps the gradient of max pooling (every chunk "
            "learns) and training and prediction score documents the same way; a one-chunk "
            "document gets exactly its max-pooled logits. Ignored without chunking"
        ),
    )
    stateful_k: int = Field(
        10, ge=1, description="chunk_pooling: stateful: labels kept in each chunk's state"
    )
    stateful_gamma: float = Field(
        1.0, ge=0, description="chunk_pooling: stateful: weight of the carried label state"
    )

    @field_validator("encoder", "head")
    @classmethod
    def _has_name(cls, v: dict[str, Any]) -> dict[str, Any]:
        if "name" not in v or not isinstance(v["name"], str):
            raise ValueError("needs a 'name' key, e.g. {name: cnn}")
        return v


class TrainConfig(_Strict):
    """The training loop."""

    epochs: int = Field(5, ge=1)
    max_steps: int | None = Field(None, ge=1)
    batch_size: int = Field(32, ge=1)
    eval_batch_size: int = Field(128, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    warmup_ratio: float = Field(0.06, ge=0, lt=1)
    schedule: Literal["linear", "cosine", "constant"] = "linear"
    grad_clip: float | None = Field(1.0, gt=0)
    patience: int | None = Field(3, ge=1, description="evaluations without improvement")
    eval_every: int | None = Field(
        None, ge=1,
        description=(
            "evaluate (and checkpoint) every this many steps and after the last one; default "
            "at the end of every epoch. Set, it replaces the per-epoch evaluations: fewer, "
            "on long schedules over small data, or more, within long epochs"
        ),
    )
    primary_metric: str = Field("auto", description="picks the best checkpoint")
    seed: int = 13
    device: str = "auto"
    num_threads: int | None = Field(None, ge=1)
    log_every: int = Field(50, ge=1)
    tensorboard: bool = True
    progress: bool = True
    freeze_encoder: bool = Field(
        False, description="train only the head (a linear probe, e.g. after pre-training)"
    )
    contrastive_views: int = Field(
        2, ge=1, le=2, description="dropout views per text when the loss contrasts embeddings"
    )
    label_sample: int | None = Field(
        None, ge=1,
        description=(
            "multi-label/extreme, heads labelwise_attention, plant and linear, losses bce "
            "(without balanced pos_weight), focal and asl: each training step scores only the "
            "batch's positive labels plus uniformly drawn negatives, this many labels in all "
            "(labelwise.models.heads.label_subset); evaluation and prediction score every "
            "label. None: every label in every step"
        ),
    )


class PretrainConfig(_Strict):
    """An optional first stage: train the encoder with a (contrastive) loss alone, then
    fine-tune with the main ``loss`` (two-stage schedule)."""

    loss: dict[str, Any] = Field(
        default_factory=lambda: {"name": "supcon"}, description="the pre-training loss"
    )
    epochs: int = Field(3, ge=1)
    lr: float | None = Field(None, gt=0, description="default: train.lr")


class DecodeConfig(_Strict):
    """From scores to label sets."""

    threshold: float = Field(0.5, gt=0, lt=1)
    tune_threshold: Literal["none", "global", "per_label"] = "global"
    tune_metric: str = "micro_f1"
    top_k: int = Field(5, ge=1)
    at_least_one: bool = Field(False, description="multi-label: predict the top label if none passes")


class PlantConfig(_Strict):
    """PLANT's stage before training (model.head.name: plant): mutual-information gain of
    every (token, label) pair on the training set, a learning-to-rank model of it, and the
    planting of its factors into the head (labelwise.plant)."""

    top_n: int = Field(100, ge=1, description="MIG: tokens kept per label (the best by MIG)")
    label_chunk: int = Field(
        256, ge=1, description="MIG: labels per sparse co-occurrence product (bounds memory)"
    )
    positive_only: bool = Field(
        True, description="MIG: keep only tokens positively associated with the label"
    )
    factor_dim: int = Field(
        400, ge=1,
        description=(
            "L2R factor dimension; equals model.head.factor_dim: either one given alone "
            "sets the other, both given and different is an error"
        ),
    )
    l2r_epochs: int = Field(10, ge=1, description="L2R: passes over the per-label lists")
    l2r_lr: float = Field(1e-2, gt=0, description="L2R: Adam learning rate")
    l2r_k: int = Field(10, ge=1, description="L2R: NDCG cut-off of the LambdaRank weights and the report")
    l2r_valid_fraction: float = Field(
        0.2, ge=0, lt=1,
        description=(
            "L2R: share of each label's MIG tokens held out of training to measure held-out "
            "NDCG@l2r_k; 0 trains on every token (no held-out NDCG)"
        ),
    )
    sigma: float = Field(0.5, gt=0, description="L2R: RankNet steepness")
    negatives: int = Field(
        20, ge=0, description="L2R: random non-MIG tokens (relevance 0) added to each list"
    )
    grades: int = Field(4, ge=1, description="L2R: relevance grades of a label's MIG list, by rank")


class Config(_Strict):
    """A whole run."""

    task: Literal["auto", "multiclass", "multilabel", "hierarchical", "extreme"] = "auto"
    data: DataConfig = Field(default_factory=lambda: DataConfig())
    tokenizer: TokenizerConfig = Field(default_factory=lambda: TokenizerConfig())
    model: ModelConfig = Field(default_factory=lambda: ModelConfig())
    loss: dict[str, Any] = Field(default_factory=lambda: {"name": "auto"})
    pretrain: PretrainConfig | None = Field(None, description="two-stage schedule: pre-train first")
    plant: PlantConfig | None = Field(
        None,
        description=(
            "PLANT head only (model.head.name: plant): the MIG and learning-to-rank stage run "
            "before training, whose factors are planted into the head; keys top_n, "
            "label_chunk, positive_only, factor_dim, l2r_epochs, l2r_lr, l2r_k, "
            "l2r_valid_fraction, sigma, negatives, grades (labelwise.config.PlantConfig). "
            "Unset with a plant head: the defaults, with the head's factor_dim. Set with "
            "another head: an error (--set plant=null removes it). Its outputs go to "
            "<run>/plant/ (mig/, l2r/, stage.json); --resume does not rerun it"
        ),
    )
    train: TrainConfig = Field(default_factory=lambda: TrainConfig())
    decode: DecodeConfig = Field(default_factory=lambda: DecodeConfig())
    metrics: list[str] | None = Field(None, description="default: chosen by task")
    output_dir: str | None = Field(None, description="run directory; default runs/<name>")

    @model_validator(mode="after")
    def _plant_matches_head(self) -> Config:
        """The ``plant`` section needs the plant head; its factor_dim and the head's agree
        (one given alone fills the other)."""
        if self.plant is None:
            return self
        head = self.model.head
        if self.model.type != "neural" or head.get("name") != "plant":
            what = "model.type linear" if self.model.type != "neural" else f"model.head '{head.get('name')}'"
            raise ValueError(
                f"the 'plant' section configures the PLANT head's MIG/L2R stage, but the run "
                f"uses {what}: set model.head.name: plant (a neural model), or remove the "
                "'plant' section (--set plant=null)"
            )
        head_dim = head.get("factor_dim")
        plant_given = "factor_dim" in self.plant.model_fields_set
        if head_dim is None:
            head["factor_dim"] = self.plant.factor_dim
        elif isinstance(head_dim, int) and not isinstance(head_dim, bool):
            if not plant_given:
                self.plant.factor_dim = head_dim
            elif head_dim != self.plant.factor_dim:
                raise ValueError(
                    f"plant.factor_dim ({self.plant.factor_dim}) and model.head.factor_dim "
                    f"({head_dim}) differ: the head holds the L2R factors, so they must be "
                    "equal; give one of them (it sets the other) or the same value to both"
                )
        return self


# ---------------------------------------------------------------- loading and overrides


def parse_value(text: str) -> Any:
    """YAML-parse an override value: ``3`` -> 3, ``[2,3]`` -> list, ``abc`` -> 'abc'."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _known_keys(model: type[BaseModel]) -> list[str]:
    return sorted(model.model_fields)


def apply_override(tree: dict[str, Any], assignment: str) -> None:
    """Apply one ``a.b.c=value`` assignment to a nested dict in place."""
    if "=" not in assignment:
        raise ConfigError(
            f"override '{assignment}' is not of the form key=value (e.g. train.lr=3e-4)"
        )
    key, _, raw = assignment.partition("=")
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise ConfigError(f"override '{assignment}' has an empty key")
    node: dict[str, Any] = tree
    model: type[BaseModel] | None = Config
    for i, part in enumerate(parts[:-1]):
        if model is not None and part not in model.model_fields:
            _unknown(".".join(parts[: i + 1]), part, _known_keys(model))
        child = node.get(part)
        if child is None:
            # dict-valued sections (encoder, head, loss) start from their defaults so that
            # e.g. model.encoder.n_layers=3 keeps the default name; model sections start empty
            default = getattr(model(), part, None) if model is not None else None
            child = dict(default) if isinstance(default, dict) else {}
            node[part] = child
        if not isinstance(child, dict):
            raise ConfigError(f"cannot set '{key}': '{'.'.join(parts[: i + 1])}' is not a section")
        node = child
        ann = model.model_fields[part].annotation if model is not None else None
        model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
    last = parts[-1]
    if model is not None and last not in model.model_fields:
        _unknown(key, last, _known_keys(model))
    value = parse_value(raw)
    if last == "name" and model is None and node.get("name") not in (None, value):
        node.clear()  # another component: the old one's parameters do not carry over
    node[last] = value


def _unknown(path: str, key: str, choices: list[str]) -> None:
    close = difflib.get_close_matches(key, choices, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ConfigError(f"unknown config key '{path}'.{hint} Valid keys here: {', '.join(choices)}")


def build_config(tree: dict[str, Any], where: str = "config") -> Config:
    """Validate a nested dict into a :class:`Config`; errors name every bad key."""
    try:
        return Config.model_validate(tree)
    except ValidationError as err:
        msgs = [_format_errors(err, where)]
        for e in err.errors():
            if e["type"] == "extra_forbidden":
                loc = [str(p) for p in e["loc"]]
                model: type[BaseModel] = Config
                for p in loc[:-1]:
                    ann = model.model_fields[p].annotation if p in model.model_fields else None
                    if isinstance(ann, type) and issubclass(ann, BaseModel):
                        model = ann
                close = difflib.get_close_matches(loc[-1], list(model.model_fields), n=2)
                if close:
                    msgs.append(f"    '{'.'.join(loc)}': did you mean '{close[0]}'?")
        raise ConfigError("\n".join(msgs)) from None


def _format_errors(err: ValidationError, where: str) -> str:
    """Like :func:`format_validation_error`, but a check across sections (an error at the
    root, from a model validator) is its message alone, without the whole config echoed as
    its input."""
    if all(e["loc"] for e in err.errors()):
        return format_validation_error(err, where)
    lines = format_validation_error(err, where).splitlines()[:1]
    for e in err.errors():
        if e["loc"]:
            lines.append(f"  - '{'.'.join(str(p) for p in e['loc'])}': {e['msg']} (got {e.get('input')!r})")
        else:
            lines.append(f"  - {str(e['msg']).removeprefix('Value error, ')}")
    return "\n".join(lines)


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Merge section by section. A component (a dict with ``name``) given another name
    replaces the earlier one whole: a bilstm keeps none of a cnn's parameters."""
    out = dict(base)
    for k, v in extra.items():
        old = out.get(k)
        same_component = not ("name" in v and isinstance(old, dict) and old.get("name") != v["name"]) \
            if isinstance(v, dict) else False
        out[k] = _deep_merge(old, v) if isinstance(old, dict) and same_component else v
    return out


def _read_yaml(p: Path) -> dict[str, Any]:
    if not p.is_file():
        raise ConfigError(f"config file '{p}' not found (check the path given to --config)")
    try:
        loaded = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(f"{p}: not valid YAML: {err}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{p}: the top level must be a mapping of sections, got {type(loaded).__name__}")
    return loaded


def read_config(
    path: str | Path | Sequence[str | Path] | None = None, overrides: list[str] | None = None
) -> Config:
    """Read YAML file(s) (later files override earlier ones, section by section), apply
    ``key=value`` overrides, validate the sections. Component names and parameters are
    checked against the registries by :func:`labelwise.components.load_config`, which
    users call (as ``labelwise.load_config``)."""
    paths = [] if path is None else [path] if isinstance(path, (str, Path)) else list(path)
    tree: dict[str, Any] = {}
    for p in paths:
        tree = _deep_merge(tree, _read_yaml(Path(p)))
    where = " + ".join(str(p) for p in paths) or "config"
    for ov in overrides or []:
        apply_override(tree, ov)
    return build_config(tree, where)


def dump_config(cfg: Config) -> str:
    """The resolved config as YAML (written into every run directory)."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
