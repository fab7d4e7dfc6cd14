"""The protocol every kind of model behind :class:`~labelwise.estimator.TextClassifier` follows.

A backend turns texts into raw scores (N, L) ("logits"), learns from a training split, and
saves to / loads from a run directory. Everything task-specific (scores, thresholds,
decisions, metrics) lives in the task (:mod:`labelwise.tasks`), which reaches the backend
through the :class:`FitContext`. A new kind of model (a fusion of runs, a label tree) is one
more class that follows :class:`Backend`, registered in :data:`BACKENDS`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from labelwise.config import Config
    from labelwise.data.labels import LabelSpace
    from labelwise.tasks import LabelTask


@dataclass
class Split:
    """Texts and their (N, L) multi-hot labels."""

    texts: list[str]
    y: np.ndarray


@dataclass
class FitContext:
    """What a backend learns besides the data.

    Attributes:
        task: the task object (training targets, loss information).
        labels: the label space (training counts per label).
        run_dir: where to write as the work goes (None: nowhere).
        resume: continue the run in ``run_dir`` from its checkpoints.
        validate: validation logits (N, L) -> metrics (the task tunes its thresholds on
            them first); None when nothing is validated during training.
        primary: the metric that picks the best checkpoint.
        measure: as ``validate``, but not reported to whoever watches training (a
            ``labelwise tune`` pruner): for a backend's own search over candidates (C
            values, fusion weights), which then reports its choice once with ``validate``.
    """

    task: LabelTask
    labels: LabelSpace
    run_dir: Path | None = None
    resume: bool = False
    validate: Callable[[np.ndarray], dict[str, float]] | None = None
    primary: str = "loss"
    measure: Callable[[np.ndarray], dict[str, float]] | None = None

    @property
    def search_metric(self) -> tuple[str, float]:
        """The metric a backend's own search maximises (the primary metric; the task's
        usual one where checkpoints are picked by loss) and its sign: -1 where less is better."""
        from labelwise.metrics import greater_is_better

        name = self.primary if self.primary != "loss" else self.task.primary_metric("auto")
        return name, 1.0 if greater_is_better(name) else -1.0

    def rate(self, logits: np.ndarray) -> float:
        """A candidate's validation logits -> its signed search metric (higher is better),
        measured without being reported (see ``measure``)."""
        measure = self.measure or self.validate
        if measure is None:
            raise ValueError("rating a candidate needs validation data")
        name, sign = self.search_metric
        return sign * measure(logits)[name]


class Backend(Protocol):
    """A kind of model: ``fit``, ``logits``, ``save``, ``load``."""

    kind: str
    train_state: dict[str, Any]  # a JSON-able summary of training, kept in decode.json

    def __init__(self, cfg: Config) -> None: ...

    def fit(self, train: Split, valid: Split, ctx: FitContext) -> None:
        """Learn from ``train``; ``valid`` may choose when to stop and what to keep."""

    def logits(self, texts: Sequence[str], on_batch: Callable[[int], None] | None = None,
               shard: bool = False) -> np.ndarray:
        """(N, L) raw scores. ``shard=True`` under ``torch.distributed``: the processes
        share the work and all return every row (every process must call it)."""

    def embed(self, texts: Sequence[str], which: str = "pooled") -> np.ndarray:
        """(N, d) document vectors; a ValueError for a model without any."""

    def network(self) -> Any:
        """The network and its tokenizer, for ONNX export; a ValueError without one."""

    def save(self, run_dir: Path) -> None: ...

    def load(self, run_dir: Path, num_labels: int) -> None: ...
