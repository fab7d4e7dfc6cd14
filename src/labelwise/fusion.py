"""Fusing the scores of several trained models: pure functions on (N, L) arrays.

A fusion averages its members' scores with weights, after putting each member on the same
footing: a linear SVM's decision values and a network's logits live on different scales,
so every member's logits are first divided by a temperature chosen on the validation split
(the one that minimises the negative log-likelihood of the true labels under the task's own
scores: softmax or sigmoid). The weights are then searched on a grid over the simplex for
the best validation metric. :class:`labelwise.backends.fusion.FusionBackend` applies this to
trained runs.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

# temperatures tried for each member: 10^-2 .. 10^2, 8 per decade
TEMPERATURES = np.logspace(-2, 2, 33)
_EPS = 1e-7


def negative_log_likelihood(scores: np.ndarray, y: np.ndarray, exclusive: bool) -> float:
    """Mean NLL of the multi-hot ``y`` (N, L) under ``scores``: the log score of each true
    label where scores are a distribution (``exclusive``, softmax), else the binary
    cross-entropy of every (document, label) pair (sigmoid)."""
    p = np.clip(scores.astype(np.float64), _EPS, 1 - _EPS)
    t = y.astype(bool)
    if exclusive:
        return float(-np.log(p[t]).sum() / max(len(p), 1))
    return float(-(np.log(p[t]).sum() + np.log(1 - p[~t]).sum()) / max(p.size, 1))


def fit_temperature(logits: np.ndarray, y: np.ndarray, scores: Callable[[np.ndarray], np.ndarray],
                    exclusive: bool, grid: np.ndarray = TEMPERATURES) -> float:
    """The temperature T of ``grid`` whose ``scores(logits / T)`` fit ``y`` best (lowest NLL)."""
    losses = [negative_log_likelihood(scores(logits / t), y, exclusive) for t in grid]
    return float(grid[int(np.argmin(losses))])


def simplex_grid(members: int, step: float) -> Iterator[np.ndarray]:
    """Every weight vector of ``members`` non-negative weights summing to 1, in multiples of
    ``step`` (which must divide 1): e.g. 2 members, step 0.25 -> (0, 1), (0.25, 0.75), ...
    Each member alone is among them, so a search can always fall back to the best one."""
    n = int(round(1 / step))
    if abs(n * step - 1) > 1e-9:
        raise ValueError(f"the weight step {step} must divide 1 (e.g. 0.05, 0.1, 0.25)")
    for parts in itertools.product(range(n + 1), repeat=members - 1):
        last = n - sum(parts)
        if last >= 0:
            yield np.array([*parts, last], dtype=np.float64) / n


def combine(scores: list[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """The weighted sum of the members' (N, L) scores."""
    out = np.zeros_like(scores[0], dtype=np.float64)
    for s, w in zip(scores, weights, strict=True):
        if w:
            out += w * s
    return out.astype(np.float32)


def search_weights(scores: list[np.ndarray], judge: Callable[[np.ndarray], float],
                   step: float) -> tuple[np.ndarray, float, list[float]]:
    """The grid weights whose combined scores ``judge`` rates highest, that rating, and the
    rating of each member alone (a corner of the grid, rated with the rest). Ties go to the
    first vector found; ``judge`` takes (N, L) scores."""
    best_w, best = None, -np.inf
    alone = [np.nan] * len(scores)
    for w in simplex_grid(len(scores), step):
        value = judge(combine(scores, w))
        if np.count_nonzero(w) == 1:
            alone[int(np.flatnonzero(w)[0])] = value
        if value > best:
            best_w, best = w, value
    assert best_w is not None
    return best_w, float(best), alone


def align_columns(scores: np.ndarray, member_classes: list[str], classes: list[str]) -> np.ndarray:
    """A member's (N, L_member) scores as (N, L) in the fusion's class order; a class the
    member does not know scores 0."""
    index = {c: i for i, c in enumerate(member_classes)}
    out = np.zeros((scores.shape[0], len(classes)), dtype=np.float32)
    for j, c in enumerate(classes):
        i = index.get(c)
        if i is not None:
            out[:, j] = scores[:, i]
    return out


class Member(BaseModel):
    """One member: a config to train (``config`` + ``set``) or a trained run (``run``)."""

    model_config = ConfigDict(extra="forbid")
    config: str | list[str] | dict[str, Any] | None = Field(
        None, description="YAML path(s) or a dict of config sections, trained on the fusion's data")
    set: list[str] = Field(default_factory=list, description="key=value overrides of config")
    run: str | None = Field(None, description="a trained run directory (instead of config)")

    @model_validator(mode="after")
    def _one_source(self) -> Member:
        if (self.config is None) == (self.run is None):
            raise ValueError("a member needs exactly one of 'config' (to train) or 'run' (trained)")
        if self.run is not None and self.set:
            raise ValueError("'set' changes a member's config before training; a 'run' member is trained")
        return self


class FusionConfig(BaseModel):
    """``model.fusion``: the members and how their weights are chosen."""

    model_config = ConfigDict(extra="forbid")
    members: list[Member] = Field(min_length=2, description="two or more members")
    weight_step: float = Field(0.05, gt=0, le=0.5, description="grid step of the weight search (must divide 1)")
    calibrate: bool = Field(True, description="divide each member's logits by a temperature fitted on validation")
