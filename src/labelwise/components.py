"""The registered components: import them all, and check a whole config against them.

The config module (:mod:`labelwise.config`) knows the sections of a run; this module, a
layer above the models, losses, metrics and data formats, knows which components exist
and what parameters each takes. :func:`load_config` is what users and the CLI call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from labelwise.config import Config, ConfigError, read_config
from labelwise.fusion import Member as FusionMember
from labelwise.metrics import describe
from labelwise.registry import ENCODERS, HEADS, LOSSES, PLUGGABLE, format_validation_error

PLUGIN_GROUP = "labelwise.plugins"  # the entry-point group of packages that add components
# (registry name, component) -> the distribution whose plugin registered it
PLUGIN_COMPONENTS: dict[tuple[str, str], str] = {}
_plugins_loaded = False


def load_all() -> None:
    """Populate the registries: import every sub-package that registers components
    (explicit, on demand; cheap after the first call, as modules are cached), then the
    plugins (:func:`load_plugins`)."""
    import labelwise.data.formats  # noqa: F401
    import labelwise.losses  # noqa: F401
    import labelwise.metrics  # noqa: F401
    import labelwise.models  # noqa: F401

    load_plugins()


def load_plugins() -> None:
    """Import, once, every module named in the ``labelwise.plugins`` entry-point group of the
    installed packages; a plugin registers its encoders, heads, losses, metrics or formats
    on import (``@ENCODERS.register("name")``, ...). A plugin that fails to import is a
    warning naming it, not a crash: the built-in components stay usable."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    import warnings
    from importlib.metadata import entry_points

    for ep in entry_points(group=PLUGIN_GROUP):
        before = {kind: set(reg.names()) for kind, reg in PLUGGABLE.items()}
        try:
            ep.load()
        except Exception as err:  # a broken plugin must not take labelwise down with it
            warnings.warn(f"labelwise plugin '{ep.name}' ({ep.value}) failed to load and is skipped: "
                          f"{type(err).__name__}: {err}", RuntimeWarning, stacklevel=2)
            continue
        source = ep.dist.name if ep.dist is not None else ep.value
        for kind, reg in PLUGGABLE.items():
            for name in set(reg.names()) - before[kind]:
                PLUGIN_COMPONENTS[(kind, name)] = source


def load_config(
    path: str | Path | Sequence[str | Path] | None = None, overrides: list[str] | None = None,
    values: Mapping[str, Any] | None = None,
) -> Config:
    """Read YAML file(s) (later files override earlier ones, section by section), apply
    ``key=value`` overrides and then ``values`` (dotted key -> value, unparsed), validate
    the sections and every component against the registries."""
    cfg = read_config(path, overrides, values)
    validate_components(cfg)
    return cfg


def validate_components(cfg: Config) -> None:
    """Check encoder / head / loss names and parameters against the registries."""
    load_all()
    if cfg.model.type == "neural":
        for section, reg in (("encoder", ENCODERS), ("head", HEADS)):
            spec = dict(getattr(cfg.model, section))
            name = spec.pop("name")
            try:
                reg.validate_params(name, spec)
            except ValueError as err:
                raise ConfigError(f"model.{section}: {err}") from None
        if cfg.model.shortlist is not None:
            _validate_linear(cfg.model.shortlist.linear, "model.shortlist.linear")
    elif cfg.model.type == "fusion":
        from labelwise.fusion import FusionConfig

        try:
            fused = FusionConfig(**cfg.model.fusion)
        except ValidationError as err:
            raise ConfigError(format_validation_error(err, "model.fusion")) from None
        for i, member in enumerate(fused.members):
            if member.config is not None:
                try:
                    fusion_member_config(member, cfg.task)
                except ConfigError as err:
                    raise ConfigError(f"model.fusion.members[{i}]: {err}") from None
    else:
        _validate_linear(cfg.model.linear, "model.linear")
    losses = [("loss", cfg.loss)]
    if cfg.pretrain is not None:
        losses.append(("pretrain.loss", cfg.pretrain.loss))
    for where, loss_spec in losses:
        spec = dict(loss_spec)
        name = spec.pop("name", None)
        if not isinstance(name, str):
            raise ConfigError(f"{where}: needs a 'name' key, e.g. {{name: bce}} or {{name: auto}}")
        if name != "auto":
            try:
                LOSSES.create(name, **spec)  # builds nested parts too (cheap: no weights)
            except ValueError as err:
                raise ConfigError(f"{where}: {err}") from None
    _validate_metric_names(cfg)


def _validate_linear(params: dict, where: str) -> None:
    """TF-IDF linear model parameters, as ``model.linear`` takes them."""
    from labelwise.linear import TfidfLinear  # scikit-learn: imported only when used (~1.5 s)

    try:
        TfidfLinear.Config(**params)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, where)) from None


def _validate_metric_names(cfg: Config) -> None:
    """Metric names (and the primary metric) are checked now, not at the first evaluation."""
    names = [*(cfg.metrics or []), cfg.decode.tune_metric]
    if cfg.train.primary_metric != "auto":
        names.append(cfg.train.primary_metric)
    try:
        for name in names:
            describe(name)
    except ValueError as err:
        raise ConfigError(f"metrics: {err}") from None
    if cfg.metrics and cfg.train.primary_metric not in ("auto", "loss", *cfg.metrics):
        raise ConfigError(
            f"train.primary_metric '{cfg.train.primary_metric}' is not among the metrics "
            f"computed ({', '.join(cfg.metrics)}); add it to 'metrics' or pick one of those"
        )


# training keys a config member takes from its fusion unless it sets them itself
INHERITED_TRAIN_KEYS = ("seed", "device", "num_threads", "progress")


def fusion_member_config(member: FusionMember, task: str, parent: Config | None = None) -> Config:
    """The config a ``config`` member trains with: its task is the fusion's, and so are
    the training keys of :data:`INHERITED_TRAIN_KEYS` (the seed, where it runs, progress
    bars) unless the member's config sets them."""
    base = {} if parent is None else {"train": {k: getattr(parent.train, k) for k in INHERITED_TRAIN_KEYS}}
    where = "a fusion member's config" if isinstance(member.config, dict) else None
    cfg = read_config(member.config, [*member.set, f"task={task}"], base=base, where=where)
    validate_components(cfg)
    if cfg.model.type == "fusion":
        raise ConfigError("a member cannot be a fusion itself")
    return cfg
