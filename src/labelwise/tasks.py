"""One object per label structure: what differs between multi-class, multi-label, extreme and
hierarchical tasks lives here, and nowhere else.

A task owns, for its label space:

- ``targets(y)``: the training targets a loss reads, from the (N, L) multi-hot matrix;
- ``scores(logits)``: softmax, sigmoid, or per-level scores that agree with the tree;
- ``decide(scores)``: argmax, thresholds (global or per label), or the best root-to-leaf path;
- ``tune(scores, y)``: the thresholds, chosen on validation data;
- its default metrics, the primary metric, and how labels fall into frequency buckets.

The estimator asks its task; it never branches on the task type. A task's fitted state
(thresholds, whether the hierarchy's levels are exclusive) is saved in ``decode.json``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np

from labelwise import decode as dec
from labelwise.config import DecodeConfig
from labelwise.data.labels import LabelSpace
from labelwise.types import Task

Threshold = float | np.ndarray
MetricFn = Callable[[np.ndarray, np.ndarray, np.ndarray], float]  # (scores, preds, targets) -> value


class LabelTask:
    """The multi-label task: independent sigmoids, a threshold (global or per label)."""

    kind: ClassVar[Task] = Task.MULTILABEL
    primary: ClassVar[str] = "micro_f1"
    default_metric_names: ClassVar[tuple[str, ...]] = (
        "micro_f1", "macro_f1", "micro_precision", "micro_recall", "accuracy",
        "hamming_loss", "p@1", "p@3", "f1_head", "f1_medium", "f1_tail",
    )
    bucket_mode: ClassVar[str] = "quantile"  # frequency buckets: thirds of the labels
    linear_kind: ClassVar[str] = "multilabel"  # how the TF-IDF linear model fits it

    def __init__(self, labels: LabelSpace, decode: DecodeConfig, exclusive: bool = False) -> None:
        self.labels = labels
        self.decode = decode
        self.exclusive = exclusive
        self.threshold: Threshold = decode.threshold

    # ------------------------------------------------------------------ description
    @property
    def value(self) -> str:
        """The task's name, as configs and ``run.json`` write it."""
        return self.kind.value

    @property
    def levels(self) -> list[list[int]] | None:
        """Class ids per hierarchy level (hierarchical tasks), else None."""
        return None

    @property
    def num_levels(self) -> int:
        return 0

    def default_metrics(self) -> list[str]:
        return list(self.default_metric_names)

    def primary_metric(self, configured: str) -> str:
        return self.primary if configured == "auto" else configured

    def loss_info(self) -> dict[str, Any]:
        """What a loss's ``setup`` hook learns of the task."""
        return {"task": self.value, "levels": self.levels, "exclusive": self.exclusive}

    # ------------------------------------------------------------------ targets and scores
    def targets(self, y: np.ndarray) -> np.ndarray:
        """(N, L) multi-hot -> what the loss reads: here the multi-hot matrix itself."""
        return y

    def scores(self, logits: np.ndarray) -> np.ndarray:
        """(N, L) logits -> (N, L) scores in [0, 1]."""
        return dec.sigmoid(logits)

    @property
    def distributional(self) -> bool:
        """Whether scores are distributions (softmax: over the classes, or per hierarchy
        level) rather than an independent sigmoid per label."""
        return False

    def logits_of(self, scores: np.ndarray) -> np.ndarray:
        """Logits whose ``scores`` are ``scores`` (a model that computes scores directly,
        such as a fusion, returns these): their log where scores are distributions (softmax
        takes it back), else their logit."""
        if self.distributional:
            return np.log(np.clip(scores.astype(np.float64), 1e-12, None)).astype(np.float32)
        p = np.clip(scores.astype(np.float64), 1e-7, 1 - 1e-7)
        return np.log(p / (1 - p)).astype(np.float32)

    def decide(self, scores: np.ndarray, threshold: Threshold | None = None) -> np.ndarray:
        """(N, L) scores -> (N, L) bool decisions with the fitted (or the given) threshold."""
        t = self.threshold if threshold is None else threshold
        return dec.apply_threshold(scores, t, self.decode.at_least_one)

    def label_names(self, decisions: np.ndarray) -> list[Any]:
        """Decisions -> what ``predict`` returns: a list of label names per document."""
        return [self.labels.decode(row) for row in decisions]

    # ------------------------------------------------------------------ thresholds
    @property
    def tunes_thresholds(self) -> bool:
        return self.decode.tune_threshold != "none"

    def per_label_thresholds(self) -> bool:
        return self.decode.tune_threshold == "per_label"

    def tune(self, scores: np.ndarray, y: np.ndarray, metric: MetricFn) -> None:
        """Choose the threshold on validation ``scores`` (N, L) and targets ``y``:
        the grid value with the best ``decode.tune_metric``, then per label where asked."""
        if not self.tunes_thresholds:
            return
        t = dec.tune_global_threshold(scores, y, lambda pred, tgt: metric(scores, pred, tgt))
        self.threshold = dec.tune_per_label_thresholds(scores, y, t) if self.per_label_thresholds() else t

    def reported_threshold(self) -> float | None:
        """The global threshold, for the validation log (None: none, or one per label)."""
        return None if isinstance(self.threshold, np.ndarray) else float(self.threshold)

    def extra_metrics(self, decisions: np.ndarray, y: np.ndarray) -> dict[str, float]:
        """Metrics only this kind of task has (multi-class abstaining); none here."""
        return {}

    # ------------------------------------------------------------------ persistence
    def state(self) -> dict[str, Any]:
        thr = self.threshold
        return {"threshold": thr.tolist() if isinstance(thr, np.ndarray) else thr,
                "exclusive_levels": self.exclusive}

    def load_state(self, state: dict[str, Any]) -> None:
        thr = state["threshold"]
        self.threshold = np.asarray(thr, dtype=np.float32) if isinstance(thr, list) else float(thr)
        self.exclusive = bool(state["exclusive_levels"])


class ExtremeTask(LabelTask):
    """Multi-label with thousands of labels: ranked by P@k, buckets at fixed frequencies."""

    kind = Task.EXTREME
    primary = "p@5"
    default_metric_names = (
        "p@1", "p@3", "p@5", "ndcg@1", "ndcg@3", "ndcg@5", "rprec@5",
        "psp@1", "psp@3", "psp@5", "micro_f1", "macro_f1", "f1_head", "f1_medium", "f1_tail",
        *(f"{g}_{m}" for g in ("frequent", "fewshot", "zeroshot") for m in ("p@1", "p@5", "ndcg@5")),
    )
    bucket_mode = "threshold"  # tail < 50 <= medium < 500 <= head, as in extreme work


class MultiClassTask(LabelTask):
    """Exactly one label per document: softmax and argmax, no threshold."""

    kind = Task.MULTICLASS
    primary = "accuracy"
    default_metric_names = ("accuracy", "macro_f1", "macro_precision", "macro_recall")
    linear_kind = "multiclass"

    def targets(self, y: np.ndarray) -> np.ndarray:
        return y.argmax(1).astype(np.int64)  # (N,) class ids

    def scores(self, logits: np.ndarray) -> np.ndarray:
        return dec.softmax(logits)

    @property
    def distributional(self) -> bool:
        return True

    def __init__(self, labels: LabelSpace, decode: DecodeConfig, exclusive: bool = False) -> None:
        super().__init__(labels, decode, exclusive)
        # decode.abstain: the confidence below which a text gets no label (coverage) or the
        # out-of-scope label (out_of_scope); None: always the argmax
        self.reject: float | None = None

    def _out_of_scope_index(self) -> int | None:
        name = self.decode.out_of_scope_label if self.decode.abstain == "out_of_scope" else None
        if name is None:
            return None
        if name not in self.labels.classes:
            raise ValueError(f"decode.out_of_scope_label '{name}' is not a class of the training data; "
                             "label the out-of-scope training texts with it, or use decode.abstain coverage")
        return self.labels.classes.index(name)

    def confidence(self, scores: np.ndarray) -> np.ndarray:
        """(N,) each text's best score among the in-scope classes."""
        oos = self._out_of_scope_index()
        if oos is None:
            return scores.max(1)
        return np.delete(scores, oos, axis=1).max(1)

    def decide(self, scores: np.ndarray, threshold: Threshold | None = None) -> np.ndarray:
        out = dec.argmax_onehot(scores)
        if self.reject is None:
            return out
        low = self.confidence(scores) < self.reject
        out[low] = False
        oos = self._out_of_scope_index()
        if oos is not None:
            out[low, oos] = True
        return out

    def label_names(self, decisions: np.ndarray) -> list[Any]:
        """One class name a text; None where it abstained (``decode.abstain: coverage``)."""
        classes = self.labels.classes
        return [classes[int(row.argmax())] if row.any() else None for row in decisions]

    @property
    def tunes_thresholds(self) -> bool:
        return self.decode.abstain != "none"

    def tune(self, scores: np.ndarray, y: np.ndarray, metric: MetricFn) -> None:
        """``decode.abstain``: the confidence threshold, on the validation ``scores``."""
        if self.decode.abstain == "none":
            return
        conf = self.confidence(scores)
        if self.decode.abstain == "coverage":
            self.reject = dec.coverage_threshold(conf, self.decode.coverage)
            return
        oos = self._out_of_scope_index()
        assert oos is not None
        truth = y.argmax(1)
        out_of_scope = (y.sum(1) == 0) | (truth == oos)
        correct = (scores.argmax(1) == truth) & ~out_of_scope | (scores.argmax(1) == oos) & out_of_scope
        self.reject = dec.tune_reject_threshold(conf, correct, out_of_scope)

    def reported_threshold(self) -> float | None:
        return self.reject

    def extra_metrics(self, decisions: np.ndarray, y: np.ndarray) -> dict[str, float]:
        """Where texts may be out of scope (the task abstains, or some texts have no
        in-scope class): the share answered, accuracy on the in-scope texts, and the share
        of out-of-scope texts (no class of the training data, or the out-of-scope label)
        that got no answer or the out-of-scope label."""
        oos = self._out_of_scope_index()
        truth = y.argmax(1)
        out_of_scope = y.sum(1) == 0
        if oos is not None:
            out_of_scope |= truth == oos
        if self.decode.abstain == "none" and not out_of_scope.any():
            return {}
        said = decisions.argmax(1)
        called_out = np.asarray(~decisions.any(1))
        if oos is not None:
            called_out |= said == oos
        in_scope = ~out_of_scope
        right = np.asarray((said == truth) & ~called_out)
        return {
            "answered": float((~called_out).mean()),
            "in_scope_accuracy": float(right[in_scope].mean()) if in_scope.any() else 0.0,
            "out_of_scope_recall": float(called_out[out_of_scope].mean()) if out_of_scope.any() else 0.0,
        }

    def state(self) -> dict[str, Any]:
        return {**super().state(), "reject_threshold": self.reject}

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        value = state.get("reject_threshold")
        self.reject = None if value is None else float(value)


class HierarchicalTask(LabelTask):
    """Labels are nodes of a tree. With exclusive levels (one node per level per document)
    each level is a softmax and decoding takes the best root-to-leaf path; otherwise
    sigmoids capped by the parent's score and a global threshold."""

    kind = Task.HIERARCHICAL
    default_metric_names = ("micro_f1", "macro_f1", "accuracy")

    @property
    def levels(self) -> list[list[int]]:
        return self.labels.levels

    @property
    def num_levels(self) -> int:
        return len(self.labels.levels)

    def default_metrics(self) -> list[str]:
        return [*self.default_metric_names, *(f"level{k + 1}_accuracy" for k in range(self.num_levels))]

    @staticmethod
    def levels_exclusive(y: np.ndarray, levels: Sequence[Sequence[int]]) -> bool:
        """Whether every document of ``y`` has at most one node per level and one at the top."""
        for depth, cols in enumerate(levels):
            per_doc = y[:, cols].sum(1)
            if per_doc.max() > 1 or (depth == 0 and per_doc.min() < 1):
                return False
        return True

    def scores(self, logits: np.ndarray) -> np.ndarray:
        if self.exclusive:
            return dec.level_softmax(logits, self.labels.levels)
        return dec.cap_by_parent(dec.sigmoid(logits), self.labels.levels, self.labels.parent_index)

    @property
    def distributional(self) -> bool:
        return self.exclusive  # exclusive levels: a softmax per level

    def decide(self, scores: np.ndarray, threshold: Threshold | None = None) -> np.ndarray:
        if self.exclusive:
            return dec.best_path(scores, self.labels.levels, self.labels.parent_index)
        return super().decide(scores, threshold)

    @property
    def tunes_thresholds(self) -> bool:
        return not self.exclusive and super().tunes_thresholds

    def per_label_thresholds(self) -> bool:
        return False  # a per-label threshold could keep a child above its parent's cut


TASKS: dict[Task, type[LabelTask]] = {
    Task.MULTICLASS: MultiClassTask,
    Task.MULTILABEL: LabelTask,
    Task.HIERARCHICAL: HierarchicalTask,
    Task.EXTREME: ExtremeTask,
}


def make_task(labels: LabelSpace, decode: DecodeConfig, y_train: np.ndarray | None = None) -> LabelTask:
    """The task object for ``labels`` (whose ``task`` names the kind). ``y_train`` (N, L),
    when given, decides whether a hierarchy's levels are exclusive."""
    cls = TASKS[labels.task]
    if decode.abstain != "none" and cls is not MultiClassTask:
        raise ValueError(f"decode.abstain is for multi-class tasks (one label a text); this task is "
                         f"{labels.task.value}, where a text with no label passing the threshold "
                         "already gets none: remove decode.abstain")
    exclusive = False
    if y_train is not None and cls is HierarchicalTask:
        exclusive = HierarchicalTask.levels_exclusive(y_train, labels.levels)
    return cls(labels, decode, exclusive)


def resolve_task(configured: str, has_hierarchy: bool, inferred: Callable[[], Task]) -> Task:
    """The task a run trains: as configured, else hierarchical when a hierarchy is given,
    else what the training labels suggest (``inferred``)."""
    if configured != "auto":
        task = Task(configured)
    else:
        task = Task.HIERARCHICAL if has_hierarchy else inferred()
    if task is Task.HIERARCHICAL and not has_hierarchy:
        raise ValueError("task 'hierarchical' needs a hierarchy: set data.hierarchy (a parent<TAB>child file)")
    return task
