"""Reading configs: YAML files merged section by section, ``--set a.b=c`` overrides, and
validation into a :class:`~labelwise.config.sections.Config` with errors that name the key."""

from __future__ import annotations

import copy
import difflib
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from labelwise.config.sections import Config, ConfigError
from labelwise.registry import (
    MAX_ERROR_LINES,
    format_validation_error,
    one_line_if_single,
    short_repr,
)

MAX_CONFIG_BYTES = 1 << 20  # a config file; real ones are a few kilobytes
MAX_CONFIG_NODES = 100_000  # values in a document once its aliases are expanded


def safe_load_bounded(text: str, where: str) -> Any:
    """``yaml.safe_load`` that refuses a document whose aliases expand to more than
    :data:`MAX_CONFIG_NODES` values (a 1 KB file of aliases nested nine deep expands to
    billions, and took a minute and 8.5 GB before), an alias that refers to itself, and
    nesting too deep to read."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        size = _expanded_size(node, {}, set(), where)
        if size > MAX_CONFIG_NODES:
            raise ConfigError(f"{where}: the YAML expands to over {MAX_CONFIG_NODES:,} values once its "
                              "aliases (*name) are expanded; a configuration needs far fewer. "
                              "Write the values out, or use fewer aliases")
        return loader.construct_document(node)
    except RecursionError:
        raise ConfigError(f"{where}: the YAML is nested too deeply to read") from None
    finally:
        loader.dispose()


def _expanded_size(node: yaml.Node, memo: dict[int, int], active: set[int], where: str) -> int:
    """Values in ``node`` with every alias expanded, counted once per shared node."""
    key = id(node)
    if key in memo:
        return memo[key]
    if key in active:
        raise ConfigError(f"{where}:{node.start_mark.line + 1}: a YAML alias refers to a value that "
                          "contains it, which has no end; remove the alias")
    active.add(key)
    total = 1
    if isinstance(node, yaml.SequenceNode):
        total += sum(_expanded_size(child, memo, active, where) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        total += sum(_expanded_size(k, memo, active, where) + _expanded_size(v, memo, active, where)
                     for k, v in node.value)
    active.discard(key)
    memo[key] = total = min(total, MAX_CONFIG_NODES + 1)
    return total


def parse_value(text: str) -> Any:
    """YAML-parse an override value: ``3`` -> 3, ``[2,3]`` -> list, ``abc`` -> 'abc'."""
    try:
        return safe_load_bounded(text, f"--set value {text[:40]!r}")
    except yaml.YAMLError:
        return text


def _known_keys(model: type[BaseModel]) -> list[str]:
    return sorted(model.model_fields)


def apply_override(tree: dict[str, Any], assignment: str) -> None:
    """Apply one ``a.b.c=value`` assignment (the value parsed as YAML) to a nested dict in place."""
    if "=" not in assignment:
        raise ConfigError(
            f"override '{assignment}' is not of the form key=value (e.g. train.lr=3e-4)"
        )
    key, _, raw = assignment.partition("=")
    set_key(tree, key, parse_value(raw))


def set_key(tree: dict[str, Any], key: str, value: Any) -> None:
    """Set the dotted config ``key`` to ``value`` in a nested dict in place, checking every
    part of the key against the config's sections."""
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise ConfigError(f"override '{key}={value}' has an empty key")
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
        _unknown(key.strip(), last, _known_keys(model))
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
    errors = err.errors()
    for e in errors[:MAX_ERROR_LINES]:
        if e["loc"]:
            lines.append(f"  - '{'.'.join(str(p) for p in e['loc'])[:200]}': {e['msg'][:300]} "
                         f"(got {short_repr(e.get('input'))})")
        else:
            lines.append(f"  - {str(e['msg']).removeprefix('Value error, ')[:500]}")
    if len(errors) > MAX_ERROR_LINES:
        lines.append(f"  ... and {len(errors) - MAX_ERROR_LINES} more")
    return one_line_if_single(lines)


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


RECIPES = "recipes"  # the package folder of shipped configs, each usable by its name


def recipe_names() -> list[str]:
    """The configs shipped inside the package (``minilm-l3-short``, ...), by name."""
    folder = resources.files("labelwise").joinpath(RECIPES)
    return sorted(f.name[: -len(".yaml")] for f in folder.iterdir() if f.name.endswith(".yaml"))


def recipe_path(name: str) -> Path:
    """The file of the shipped config ``name``; a ConfigError naming the known ones."""
    if name not in recipe_names():
        raise ConfigError(f"config '{name}' is neither a file nor a shipped recipe ("
                          f"{', '.join(recipe_names())}); check the path given to --config")
    return Path(str(resources.files("labelwise").joinpath(RECIPES, f"{name}.yaml")))


def _read_yaml(p: Path) -> dict[str, Any]:
    if not p.exists() and p.suffix == "" and len(p.parts) == 1:
        p = recipe_path(p.name)  # a bare name: a shipped recipe
    if not p.is_file():
        what = "is a directory, not a file" if p.is_dir() else "not found"
        raise ConfigError(f"config file '{p}' {what} (check the path given to --config)")
    size = p.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise ConfigError(f"{p}: {size:,} bytes; a config file may hold at most {MAX_CONFIG_BYTES:,} "
                          "(is this the right file?)")
    try:
        loaded = safe_load_bounded(p.read_text(encoding="utf-8"), str(p))
    except UnicodeDecodeError as err:
        raise ConfigError(f"{p}: not UTF-8 text (byte {err.start + 1}); save the config as UTF-8") from None
    except yaml.YAMLError as err:
        raise ConfigError(_yaml_error(p, err)) from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{p}: the top level must be a mapping of sections, got {type(loaded).__name__}")
    return loaded


def _yaml_error(path: Path, err: yaml.YAMLError) -> str:
    """One line: the file, the line and column where the YAML parser stopped, and why."""
    mark = getattr(err, "problem_mark", None)
    where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
    column = f", column {mark.column + 1}" if mark is not None else ""
    problem = " ".join(str(getattr(err, "problem", None) or err).split())[:300]
    context = " ".join(str(getattr(err, "context", None) or "").split())[:200]
    return f"{where}: not valid YAML{column}: {problem}" + (f" ({context})" if context else "")


Layer = str | Path | Mapping[str, Any]  # a YAML file, a shipped recipe's name, or sections as read


def _layers(path: Layer | Sequence[Layer] | None) -> list[Layer]:
    """One config source or several, as a list."""
    return [] if path is None else [path] if isinstance(path, (str, Path, Mapping)) else list(path)


def read_tree(
    path: Layer | Sequence[Layer] | None = None,
    overrides: Sequence[str] = (),
    base: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The nested dict of YAML file(s) (a bare name is a shipped recipe; a mapping is taken
    as read) merged over ``base``, later files winning section by section, with
    ``key=value`` overrides applied; not validated."""
    tree: dict[str, Any] = copy.deepcopy(dict(base)) if base else {}
    for p in _layers(path):
        layer = copy.deepcopy(dict(p)) if isinstance(p, Mapping) else _read_yaml(Path(p))
        tree = _deep_merge(tree, layer)
    for ov in overrides:
        apply_override(tree, ov)
    return tree


def read_config(
    path: Layer | Sequence[Layer] | None = None,
    overrides: Sequence[str] | None = None, values: Mapping[str, Any] | None = None,
    base: Mapping[str, Any] | None = None, where: str | None = None,
) -> Config:
    """Read YAML file(s) (later files override earlier ones, section by section; a mapping
    is taken as read) over ``base`` (a nested dict), apply ``key=value`` overrides, then
    ``values`` (dotted key -> a value as it is, not parsed), validate the sections; errors
    name ``where`` (default: the files). Component names and parameters are checked
    against the registries by :func:`labelwise.components.load_config`, which users call
    (as ``labelwise.load_config``)."""
    paths = _layers(path)
    tree = read_tree(paths, overrides or (), base)
    if where is None:
        where = " + ".join(str(p) for p in paths if not isinstance(p, Mapping)) or "config"
    for key, value in (values or {}).items():
        set_key(tree, key, value)
    return build_config(tree, where)


def dump_config(cfg: Config) -> str:
    """The resolved config as YAML (written into every run directory)."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
