"""A small registry: components are registered by name and built from a config.

Each registered class may declare a nested pydantic model ``Config`` (``extra="forbid"``)
holding its hyperparameters. ``Registry.create(name, **params)`` validates ``params``
against that model, so a typo in a YAML key is an error naming the key and the choices.
Nothing is imported by path: only registered names can be built (no code from files).
"""

from __future__ import annotations

import difflib
import reprlib
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

T = TypeVar("T")


_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 80
_SHORT.maxlist = _SHORT.maxdict = _SHORT.maxtuple = _SHORT.maxset = 6
_SHORT.maxlevel = 3
MAX_ERROR_LINES = 20


def short_repr(value: Any) -> str:
    """``repr`` cut to a few dozen characters, without walking a huge value."""
    return _SHORT.repr(value)


def format_validation_error(err: ValidationError, where: str) -> str:
    """Turn a pydantic error into lines that say key, problem and input (at most
    :data:`MAX_ERROR_LINES` of them, each input shown short)."""
    lines = [f"invalid configuration in {where}:"]
    errors = err.errors()
    for e in errors[:MAX_ERROR_LINES]:
        loc = ".".join(str(p) for p in e["loc"]) or "(root)"
        if e["type"] == "extra_forbidden":
            lines.append(f"  - unknown key '{loc[:200]}'")
        else:
            lines.append(f"  - '{loc[:200]}': {e['msg'][:300]} (got {short_repr(e.get('input'))})")
    if len(errors) > MAX_ERROR_LINES:
        lines.append(f"  ... and {len(errors) - MAX_ERROR_LINES} more")
    return one_line_if_single(lines)


def one_line_if_single(lines: list[str]) -> str:
    """A heading and its list of problems; with one problem, a single line."""
    if len(lines) == 2:
        return f"{lines[0]} {lines[1].strip().removeprefix('- ')}"
    return "\n".join(lines)


class Registry(Generic[T]):
    """Maps names to classes (or factories) of one kind, e.g. encoders or losses."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Class decorator: ``@ENCODERS.register("cnn")``."""

        def deco(obj: Callable[..., T]) -> Callable[..., T]:
            if name in self._entries and self._entries[name] is not obj:
                raise ValueError(f"{self.kind} '{name}' is already registered")
            self._entries[name] = obj
            return obj

        return deco

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def get(self, name: str) -> Callable[..., T]:
        """The registered class; unknown names raise with close matches."""
        if name not in self._entries:
            close = difflib.get_close_matches(name, self._entries, n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise ValueError(
                f"unknown {self.kind} '{name}'.{hint} Valid choices: {', '.join(self.names())}"
            )
        return self._entries[name]

    def config_class(self, name: str) -> type[BaseModel] | None:
        cls = self.get(name)
        cfg = getattr(cls, "Config", None)
        return cfg if isinstance(cfg, type) and issubclass(cfg, BaseModel) else None

    def validate_params(self, name: str, params: dict[str, Any]) -> BaseModel | None:
        """Validate ``params`` against the component's Config; errors name each bad key."""
        cfg_cls = self.config_class(name)
        if cfg_cls is None:
            if params:
                raise ValueError(
                    f"{self.kind} '{name}' takes no parameters, got: {', '.join(sorted(params))}"
                )
            return None
        try:
            return cfg_cls(**params)
        except ValidationError as err:
            valid = ", ".join(sorted(cfg_cls.model_fields))
            raise ValueError(
                format_validation_error(err, f"{self.kind} '{name}'")
                + f"\n  valid keys for {self.kind} '{name}': {valid}"
            ) from None

    def create(self, name: str, /, *args: Any, **params: Any) -> T:
        """Build ``name``: positional ``args`` go to the constructor as they are, and the
        keyword ``params`` are validated into its Config, passed as ``config=``."""
        cls = self.get(name)
        cfg = self.validate_params(name, params)
        if cfg is None:
            return cls(*args)
        return cls(*args, config=cfg)

    def describe(self) -> list[tuple[str, str]]:
        """(name, first line of docstring) for ``labelwise list``."""
        out = []
        for n in self.names():
            doc = (self._entries[n].__doc__ or "").strip().splitlines()
            out.append((n, doc[0] if doc else ""))
        return out


# The project's registries. Sub-packages register into them with explicit imports in their
# ``__init__``; ``labelwise.components.load_all()`` imports every sub-package once.
ENCODERS: Registry[Any] = Registry("encoder")
HEADS: Registry[Any] = Registry("head")
LOSSES: Registry[Any] = Registry("loss")
METRICS: Registry[Any] = Registry("metric")
FORMATS: Registry[Any] = Registry("data format")
POOLINGS: Registry[Any] = Registry("chunk pooling")
# what `labelwise list` shows and plugins may add to, by the name it prints
PLUGGABLE: dict[str, Registry[Any]] = {"encoders": ENCODERS, "heads": HEADS, "losses": LOSSES,
                                       "metrics": METRICS, "formats": FORMATS}
