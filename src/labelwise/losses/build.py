"""Build the loss a config asks for; ``name: auto`` picks one from the task."""

from __future__ import annotations

from typing import Any

from labelwise.losses.base import Loss
from labelwise.registry import LOSSES


def auto_loss_name(info: dict[str, Any]) -> str:
    """ce for multi-class, hier_softmax for exclusive hierarchies, else bce."""
    if info["task"] == "multiclass":
        return "ce"
    if info["task"] == "hierarchical" and info.get("exclusive"):
        return "hier_softmax"
    return "bce"


def build_loss(spec: dict[str, Any], info: dict[str, Any]) -> Loss:
    """``spec`` is ``{name: ..., **params}``; ``info`` goes to the loss's ``setup`` hook."""
    params = dict(spec)
    name = params.pop("name", "auto")
    if name == "auto":
        name = auto_loss_name(info)
    loss = LOSSES.create(name, **params)
    if not isinstance(loss, Loss):
        raise TypeError(f"loss '{name}' is a {type(loss).__name__}, not a labelwise Loss")
    loss.setup(info)
    return loss


def loss_needs_embeddings(spec: dict[str, Any]) -> bool:
    """Whether the configured loss (or any part of a ``combined`` one) contrasts the
    model's projection embeddings, so the model must have a projection head."""
    params = dict(spec)
    name = params.pop("name", "auto")
    if name == "auto":
        return False
    loss = LOSSES.create(name, **params)
    return isinstance(loss, Loss) and loss.needs_embeddings
