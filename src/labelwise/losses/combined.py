"""``combined``: a weighted sum of named losses, each built and validated through LOSSES."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from labelwise.losses.base import Loss
from labelwise.losses.classification import ALL_TASKS
from labelwise.registry import LOSSES
from labelwise.types import LossOutput, ModelOutput


@LOSSES.register("combined")
class CombinedLoss(Loss):
    """Weighted sum of losses: ``total = sum_i weight_i * loss_i``.

    Requirements:
        Whatever each part requires; ``supported_tasks`` is the intersection of the parts'.

    Inputs:
        The same ``(output, targets)`` are given to every part.

    Config:
        parts: a list of ``{"name": <registered loss>, "weight": 1.0, **params}``
            (``name: auto`` picks the task's default loss at setup, as ``loss: auto`` does); the
            params are validated against that loss's Config (an unknown name or key is an
            error that names the part and suggests close matches). Defaults to a single
            ``bce`` part, which accepts every task.

    ``parts`` of the output holds each part's unweighted value keyed by its name, with
    ``_1``, ``_2``... appended to repeated names (``bce``, ``bce_1``); sub-terms a part
    reports under other names appear as ``"<key>/<sub-name>"``. ``setup`` and the trainer hooks
    (``attach``, ``before_loss``, ``after_step``) are forwarded to every part that defines them. Parts cannot themselves be ``combined``: one flat list
    says the same thing with a single set of weights.
    """

    name = "combined"
    supported_tasks: tuple[str, ...] = ALL_TASKS

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        parts: list[dict[str, Any]] = Field(default_factory=lambda: [{"name": "bce"}], min_length=1)

    def __init__(self, config: Config | None = None) -> None:
        super().__init__()
        self.config = config if config is not None else self.Config()
        self.keys: list[str] = []
        self.names: list[str] = []
        self.weights: list[float] = []
        self.losses = nn.ModuleList()
        seen: dict[str, int] = {}
        tasks = set(ALL_TASKS)
        self._auto: dict[int, dict[str, Any]] = {}  # parts named 'auto', built by setup
        for i, spec in enumerate(self.config.parts):
            name, weight, params = _parse_part(i, spec)
            if name == "auto":
                self._auto[i] = params
                loss: nn.Module = nn.Identity()  # placeholder until setup knows the task
            else:
                try:
                    loss = LOSSES.create(name, **params)
                except ValueError as err:
                    raise ValueError(f"combined loss, parts[{i}] ('{name}'): {err}") from None
            n = seen.get(name, 0)
            seen[name] = n + 1
            self.keys.append(name if n == 0 else f"{name}_{n}")
            self.names.append(name)
            self.weights.append(weight)
            self.losses.append(loss)
            tasks &= set(getattr(loss, "supported_tasks", ALL_TASKS))
        self.supported_tasks = tuple(t for t in ALL_TASKS if t in tasks)
        # a model must project embeddings if any part contrasts them; the trainer feeds two
        # dropout views if any part contrasts
        parts = [p for p in self.losses if isinstance(p, Loss)]
        self.needs_embeddings = any(p.needs_embeddings for p in parts)
        self.contrastive = any(p.contrastive for p in parts)

    def setup(self, label_info: Mapping[str, Any]) -> None:
        from labelwise.losses.build import auto_loss_name

        for i, params in self._auto.items():
            name = auto_loss_name(dict(label_info))
            self.losses[i] = LOSSES.create(name, **params)
            self.names[i] = name
        if self._auto:  # re-number repeated names now that every part has one
            seen: dict[str, int] = {}
            for i, name in enumerate(self.names):
                n = seen.get(name, 0)
                self.keys[i], seen[name] = (name if n == 0 else f"{name}_{n}"), n + 1
        for loss in self._parts():
            loss.setup(label_info)

    def _parts(self) -> list[Loss]:
        return [loss for loss in self.losses if isinstance(loss, Loss)]

    def attach(self, model: nn.Module) -> None:
        """Trainer hooks, forwarded to every part."""
        for loss in self._parts():
            loss.attach(model)

    def before_loss(self, batch: Any) -> None:
        for loss in self._parts():
            loss.before_loss(batch)

    def after_step(self, model: nn.Module) -> None:
        for loss in self._parts():
            loss.after_step(model)

    def forward(self, output: ModelOutput, targets: torch.Tensor) -> LossOutput:
        if any(isinstance(loss, nn.Identity) for loss in self.losses):
            raise ValueError("combined loss: a part named 'auto' is chosen from the task by "
                             "setup(info); call it first (build_loss does)")
        total: torch.Tensor | None = None
        parts: dict[str, torch.Tensor] = {}
        for key, name, weight, loss in zip(
            self.keys, self.names, self.weights, self.losses, strict=True
        ):
            out = loss(output, targets)
            term = weight * out.total
            total = term if total is None else total + term
            parts[key] = out.total.detach()
            for sub, value in out.parts.items():
                if sub != name:
                    parts[f"{key}/{sub}"] = value.detach()
        assert total is not None  # Config guarantees at least one part
        return LossOutput(total=total, parts=parts)


def _parse_part(i: int, spec: Any) -> tuple[str, float, dict[str, Any]]:
    """Split one part spec into (name, weight, params), with errors that say how to fix it."""
    if not isinstance(spec, Mapping):
        raise TypeError(
            f"combined loss, parts[{i}]: expected a mapping like {{'name': 'bce', 'weight': 1.0}}, "
            f"got {type(spec).__name__} {spec!r}"
        )
    params = dict(spec)
    name = params.pop("name", None)
    if not isinstance(name, str):
        raise ValueError(
            f"combined loss, parts[{i}]: expected a 'name' key naming a registered loss "
            f"({', '.join(n for n in LOSSES.names() if n != 'combined')}), got {spec!r}"
        )
    if name == "combined":
        raise ValueError(
            f"combined loss, parts[{i}]: a part cannot itself be 'combined'; list its parts "
            "in the outer combined loss instead (weights multiply out)"
        )
    weight = params.pop("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)):
        raise TypeError(
            f"combined loss, parts[{i}] ('{name}'): weight must be a number, got {weight!r}"
        )
    if not math.isfinite(weight) or weight < 0:
        raise ValueError(
            f"combined loss, parts[{i}] ('{name}'): weight must be finite and >= 0, got {weight}"
        )
    return name, float(weight), params
