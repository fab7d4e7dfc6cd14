"""A fusion of trained models as one model (``model.type: fusion``).

Its members are whole labelwise runs: a TF-IDF linear model beside a network, say. Each
member is either trained here, on the fusion's own training and validation split (``config``:
a YAML path, a list of them, or a dict of sections, plus ``set`` overrides), or an already
trained run (``run``: its directory; it must have been trained on the same training data
and not on the fusion's validation split, which chooses the weights). On the validation
split every member gets a temperature, then the weights are searched
(:mod:`labelwise.fusion`). The run directory holds each member as a complete run of its
own (``members/<i>/``) and ``fusion.json``; a member that finished is not trained again when
the fusion resumes.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from labelwise import checkpoint as ckpt
from labelwise import distributed, fusion, rundir
from labelwise.backends.base import FitContext, Split
from labelwise.components import fusion_member_config
from labelwise.config import Config, ConfigError
from labelwise.fusion import FusionConfig
from labelwise.training import elapsed

if TYPE_CHECKING:
    from labelwise.estimator import TextClassifier


class FusionBackend:
    """Members' scores, calibrated and averaged with weights chosen on validation."""

    kind = "fusion"

    def __init__(self, cfg: Config) -> None:
        self.config = FusionConfig(**cfg.model.fusion)
        self.parent = cfg  # a config member inherits its seed and device from it
        self.members: list[TextClassifier] = []
        self.classes: list[str] = []  # the fusion's, in its labels.json order
        self.temperatures: list[float] = []
        self.weights = np.zeros(0)
        self.train_state: dict[str, Any] = {}
        self._valid: tuple[Sequence[str], np.ndarray] | None = None  # the last validation scores

    # ------------------------------------------------------------------ fitting
    def fit(self, train: Split, valid: Split, ctx: FitContext) -> None:
        from labelwise.estimator import TextClassifier
        from labelwise.types import Example

        t0 = time.perf_counter()
        if ctx.task.value == "hierarchical":
            raise ConfigError("model.type fusion: hierarchical tasks are not supported yet (the members "
                              "would need the hierarchy); fuse multi-class, multi-label or extreme models")
        self.classes = classes = list(ctx.labels.classes)

        def examples(split: Split) -> list[Example]:
            return [Example(t, tuple(classes[j] for j in np.flatnonzero(row)))
                    for t, row in zip(split.texts, split.y, strict=True)]

        train_ex, valid_ex = examples(train), examples(valid)
        self.members, seconds = [], []
        for i, member in enumerate(self.config.members):
            start = time.perf_counter()
            where = None if ctx.run_dir is None else rundir.member_dir(ctx.run_dir, i)
            state = "empty" if where is None or not ctx.resume else rundir.run_state(where)
            if member.run is not None:
                clf = TextClassifier.load(member.run)
                spent = time.perf_counter() - start
            elif where is not None and state == "complete":
                clf = TextClassifier.load(where)  # finished before the fusion was interrupted
                spent = elapsed.member_seconds(where)  # its training, in an earlier process
            else:  # a member interrupted after a checkpoint continues from it
                earlier = elapsed.earlier_seconds(where) if where is not None and state == "resumable" else 0.0
                try:
                    clf = TextClassifier(fusion_member_config(member, ctx.task.value, self.parent)).fit_examples(
                        train_ex, valid_ex, run_dir=where, replace=True, resume=state == "resumable",
                        known_labels=classes)
                except ValueError as err:  # ConfigError and DataError too: say which member
                    raise type(err)(f"model.fusion.members[{i}]: {err}") from err
                spent = earlier + time.perf_counter() - start
                if where is not None and distributed.is_main():
                    elapsed.record_member_seconds(where, spent)
            if clf.task_.value != ctx.task.value:
                raise ConfigError(f"model.fusion.members[{i}] is a {clf.task_.value} model; "
                                  f"the fusion's task is {ctx.task.value}")
            self.members.append(clf)
            seconds.append(spent)

        logits = [m.backend_.logits(valid.texts) for m in self.members]
        self.temperatures = [
            fusion.fit_temperature(z, m.labels_.encode_many(valid_ex), m.task_.scores, m.task_.distributional)
            if self.config.calibrate else 1.0 for m, z in zip(self.members, logits, strict=True)]
        scores = [self._aligned(m, z / t) for m, z, t in zip(self.members, logits, self.temperatures, strict=True)]
        assert ctx.validate is not None, "a fusion chooses its weights on the validation split"
        primary, sign = ctx.search_metric
        self.weights, best, alone = fusion.search_weights(
            scores, lambda combined: ctx.rate(self._logits_of(combined)), self.config.weight_step)
        self._valid = (valid.texts, fusion.combine(scores, self.weights))
        ctx.validate(self._logits_of(self._valid[1]))  # the choice, reported once
        if distributed.is_main():
            print(f"labelwise: fusion: weights {' / '.join(f'{w:g}' for w in self.weights)} chosen on validation "
                  f"({primary} {sign * best:.4f}; each member alone: "
                  f"{', '.join(f'{sign * a:.4f}' for a in alone)})", file=sys.stderr)
        self.train_state = {
            "train_seconds": time.perf_counter() - t0, "member_seconds": seconds,
            "weights": self.weights.tolist(), "temperatures": self.temperatures,
            "valid_" + primary: sign * best, "members_valid_" + primary: [sign * a for a in alone],
        }

    def _aligned(self, member: TextClassifier, logits: np.ndarray) -> np.ndarray:
        return fusion.align_columns(member.task_.scores(logits), member.classes_, self.classes)

    def _logits_of(self, scores: np.ndarray) -> np.ndarray:
        # every member has the fusion's task, so any member's task inverts the scores
        return self.members[0].task_.logits_of(scores)

    # ------------------------------------------------------------------ predicting
    def logits(self, texts: Sequence[str], on_batch: Callable[[int], None] | None = None,
               shard: bool = False) -> np.ndarray:
        if self._valid is not None and texts is self._valid[0]:
            return self._logits_of(self._valid[1])  # the validation split, just scored in fit
        scores = [self._aligned(m, m.backend_.logits(texts) / t)
                  for m, t in zip(self.members, self.temperatures, strict=True)]
        if on_batch is not None:
            on_batch(len(texts))
        return self._logits_of(fusion.combine(scores, self.weights))

    def embed(self, texts: Sequence[str], which: str = "pooled") -> np.ndarray:
        raise ValueError("embed() needs a neural model; a fusion has no single encoder "
                         "(load one of its members, members/<i>/ in its run directory)")

    def network(self) -> Any:
        raise ValueError("a fusion has no single network to export; export its neural member "
                         "(members/<i>/ in its run directory)")

    # ------------------------------------------------------------------ persistence
    def save(self, run_dir: Path) -> None:
        paths = []
        for i, member in enumerate(self.members):
            where = rundir.member_dir(run_dir, i)
            if rundir.run_state(where) != "complete":
                member.save(where, overwrite=True)
            paths.append(str(where.relative_to(run_dir)))
        ckpt.write_json(run_dir / rundir.FUSION, {
            "members": paths, "weights": self.weights.tolist(), "temperatures": self.temperatures})

    def load(self, run_dir: Path, num_labels: int,
             load_member: Callable[[Path], TextClassifier] | None = None) -> None:
        """Read ``fusion.json`` and the members it names (``load_member``: how a member's
        folder becomes a model; default ``TextClassifier.load``, the ONNX export passes its
        own)."""
        from labelwise.data.labels import LabelSpace
        from labelwise.estimator import TextClassifier

        state = ckpt.read_json(run_dir / rundir.FUSION)
        self.classes = list(LabelSpace.from_json(ckpt.read_json(run_dir / rundir.LABELS)).classes)
        loader = load_member or TextClassifier.load
        self.members = [loader(run_dir / p) for p in state["members"]]
        self.weights = np.asarray(state["weights"], dtype=np.float64)
        self.temperatures = [float(t) for t in state["temperatures"]]
        if not (len(self.members) == len(self.weights) == len(self.temperatures)):
            raise ckpt.CheckpointError(f"{run_dir / rundir.FUSION}: members, weights and temperatures differ in number")
