"""The label space of a run: frozen ordered classes, encodings and ``labels.json``.

Class order: sorted by name; for hierarchical tasks every hierarchy node used by the
training labels or as their ancestor, ordered by level, then name. Labels met later
(validation, test, prediction) that training never saw follow the ``unseen`` policy:
``"error"`` raises, ``"ignore"`` drops them, ``"warn"`` drops them with one warning per
label. For hierarchical tasks the known ancestors of a dropped label are still set.
"""

from __future__ import annotations

import json
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from labelwise.data.errors import DataError
from labelwise.data.hierarchy import Hierarchy
from labelwise.types import Example, Task

FORMAT_VERSION = 1
IGNORE_INDEX = -100  # class id of an example whose only label was dropped (torch's default)
UNSEEN_POLICIES = ("error", "ignore", "warn")
EXTREME_MIN_LABELS = 1000


def infer_task(examples: Iterable[Example]) -> Task:
    """Multi-class if every example has exactly one label, else multi-label (extreme above
    1000 distinct labels)."""
    count, single, names = 0, True, set[str]()
    for ex in examples:
        count += 1
        single = single and len(ex.labels) == 1
        names.update(ex.labels)
    if count == 0:
        raise DataError("cannot infer the task from an empty training set", _EMPTY_HINT)
    if single:
        return Task.MULTICLASS
    return Task.EXTREME if len(names) > EXTREME_MIN_LABELS else Task.MULTILABEL


_EMPTY_HINT = "Check the training file or split, and data.max_train / data.train_fraction"


def _task(task: Task | str) -> Task:
    try:
        return Task(task)
    except ValueError:
        raise DataError(f"unknown task {task!r}", f"Use one of {[t.value for t in Task]}") from None


def _check_policy(unseen: str) -> str:
    if unseen not in UNSEEN_POLICIES:
        raise DataError(f"unknown unseen-label policy {unseen!r}", f"Use one of {UNSEEN_POLICIES}")
    return unseen


class LabelSpace:
    """Ordered classes with their ids, training counts and (optionally) hierarchy levels.

    Attributes:
        task: The task the space was built for.
        index: Read-only mapping class name -> id.
        train_counts: (L,) int64, training documents carrying each class.
        num_train_docs: Number of training documents.
        level_of: 0-based level of each class (all 0 without a hierarchy).
        levels: Class ids grouped by level.
        parent_index: Id of each class's parent (the first one in a DAG), -1 at the top.
        ancestor_index: Ids of each class's ancestors.
    """

    def __init__(
        self,
        classes: Sequence[str],
        task: Task | str,
        *,
        train_counts: Sequence[int] | np.ndarray | None = None,
        hierarchy: Hierarchy | None = None,
        unseen: str = "error",
        num_train_docs: int = 0,
    ) -> None:
        self.task = _task(task)
        self.num_train_docs = int(num_train_docs)
        self.unseen = _check_policy(unseen)
        self.hierarchy = hierarchy
        self._classes = tuple(classes)
        if not self._classes:
            raise DataError("the label space has no classes", "Give training data with labels")
        dups = sorted(k for k, n in Counter(self._classes).items() if n > 1)
        if dups:
            raise DataError(f"duplicate class names {dups}", "List each class once")
        self.index = MappingProxyType({c: i for i, c in enumerate(self._classes)})
        n = len(self._classes)
        counts = np.zeros(n, np.int64) if train_counts is None else np.asarray(train_counts)
        if counts.shape != (n,):
            raise DataError(f"train_counts has shape {counts.shape}, expected ({n},)")
        self.train_counts = counts.astype(np.int64)
        self.train_counts.flags.writeable = False
        self.level_of, self.parent_index = [0] * n, [-1] * n
        self.ancestor_index: list[tuple[int, ...]] = [()] * n
        if self.task.hierarchical:
            h = _need_hierarchy(hierarchy)
            for i, c in enumerate(self._classes):
                if c not in h:
                    raise DataError(f"class {c!r} is not a node of the hierarchy")
                self.level_of[i] = h.depth(c) - 1
                self.parent_index[i] = min(
                    (self.index[p] for p in h.parents(c) if p in self.index), default=-1
                )
                self.ancestor_index[i] = tuple(
                    self.index[a] for a in h.ancestors(c) if a in self.index
                )
        self.levels = [
            [i for i in range(n) if self.level_of[i] == k] for k in range(max(self.level_of) + 1)
        ]
        self._warned: set[str] = set()
        # while encode_many / encode_classes run: unseen labels to warn about once, together
        self._pending: list[tuple[str, str | None]] | None = None

    @classmethod
    def fit(
        cls,
        examples: Iterable[Example],
        task: Task | str,
        hierarchy: Hierarchy | None = None,
        unseen: str = "error",
        known_labels: Iterable[str] = (),
    ) -> LabelSpace:
        """Collect the classes of the training ``examples``.

        ``known_labels`` adds classes with zero training count (e.g. zero-shot labels).
        """
        task = _task(task)
        examples = list(examples)
        if not examples:
            raise DataError("the training set is empty", _EMPTY_HINT)
        h = _need_hierarchy(hierarchy) if task.hierarchical else None
        counts: Counter[str] = Counter()
        for ex in examples:
            if task.single_label and len(ex.labels) != 1:
                raise DataError.at(
                    ex.source,
                    f"a multi-class example needs exactly one label, got {len(ex.labels)} {list(ex.labels)}",
                    "Set `task: multilabel` if a document may have several labels or none",
                )
            names = set(ex.labels)
            if h is not None:
                for label in ex.labels:
                    if label not in h:
                        raise DataError.at(
                            ex.source,
                            f"label {label!r} is not a node of the hierarchy",
                            f"Add a row 'PARENT<TAB>{label}' (or 'ROOT<TAB>{label}') to the hierarchy file, or fix the label",
                        )
                    names.update(h.ancestors(label))
            counts.update(names)
        if not counts:
            raise DataError("no training example has a label", "Check the 'labels' of the data")
        names = set(counts) | set(known_labels)
        if h is not None:  # a known leaf brings its ancestors, as a trained one does
            for label in known_labels:
                if label in h:
                    names.update(h.ancestors(label))
        key = (lambda c: (h.depth(c), c)) if h is not None else None
        classes = sorted(names, key=key)
        return cls(
            classes,
            task,
            train_counts=[counts[c] for c in classes],
            hierarchy=hierarchy,
            unseen=unseen,
            num_train_docs=len(examples),
        )

    # -- views ---------------------------------------------------------------------------
    @property
    def classes(self) -> list[str]:
        """Class names in id order (a copy)."""
        return list(self._classes)

    def __len__(self) -> int:
        return len(self._classes)

    def __repr__(self) -> str:
        return f"LabelSpace(task={self.task.value}, classes={len(self)}, levels={len(self.levels)})"

    # -- encoding ------------------------------------------------------------------------
    def encode_indices(
        self, labels: Iterable[str], source: str | None = None, unseen: str | None = None
    ) -> np.ndarray:
        """Sorted unique class ids of ``labels`` (plus ancestors for hierarchical tasks)."""
        ids: set[int] = set()
        for label in labels:
            i = self.index.get(label)
            if i is None:
                self._unseen(label, source, unseen or self.unseen)
                h = self.hierarchy
                if self.task.hierarchical and h is not None and label in h:
                    ids.update(self.index[a] for a in h.ancestors(label) if a in self.index)
                continue
            ids.add(i)
            ids.update(self.ancestor_index[i])
        return np.array(sorted(ids), dtype=np.int64)

    def encode(
        self, labels: Iterable[str], source: str | None = None, unseen: str | None = None
    ) -> np.ndarray:
        """Multi-hot (L,) float32 vector of ``labels``."""
        row = np.zeros(len(self), dtype=np.float32)
        row[self.encode_indices(labels, source, unseen)] = 1.0
        return row

    def encode_class(
        self, labels: Sequence[str], source: str | None = None, unseen: str | None = None
    ) -> int:
        """The class id of a single-label example; ``IGNORE_INDEX`` if its label is dropped."""
        if len(labels) != 1:
            raise DataError.at(
                source,
                f"a multi-class example needs exactly one label, got {len(labels)} {list(labels)}",
                "Fix the example, or set `task: multilabel`",
            )
        ids = self.encode_indices(labels, source, unseen)
        return int(ids[0]) if len(ids) else IGNORE_INDEX

    def encode_many(self, examples: Sequence[Example], unseen: str | None = None) -> np.ndarray:
        """(N, L) float32 multi-hot matrix (use ``encode_indices`` per batch for huge L)."""
        out = np.zeros((len(examples), len(self)), dtype=np.float32)
        with self._one_warning():
            for r, ex in enumerate(examples):
                out[r, self.encode_indices(ex.labels, ex.source, unseen)] = 1.0
        return out

    def encode_classes(self, examples: Sequence[Example], unseen: str | None = None) -> np.ndarray:
        """(N,) int64 class ids of single-label examples."""
        with self._one_warning():
            ids = [self.encode_class(ex.labels, ex.source, unseen) for ex in examples]
        return np.array(ids, dtype=np.int64)

    @contextmanager
    def _one_warning(self) -> Iterator[None]:
        """Unseen labels met inside the block (policy ``warn``) make one warning at its
        end, with their count and the first few with their lines, instead of one each (a
        split of EURLEX57K has hundreds)."""
        if self._pending is not None:  # nested: the outer block warns
            yield
            return
        self._pending = []
        try:
            yield
        finally:
            pending, self._pending = self._pending, None
        if len(pending) == 1:
            label, source = pending[0]
            where = f"{source}: " if source else ""
            warnings.warn(
                f"{where}label {label!r} does not occur in the training data; it is dropped "
                "(data.unseen_labels=warn)",
                UserWarning,
                stacklevel=3,
            )
        elif pending:
            shown = ", ".join(f"{lab!r} ({src})" if src else repr(lab) for lab, src in pending[:5])
            more = f" and {len(pending) - 5} more" if len(pending) > 5 else ""
            warnings.warn(
                f"{len(pending)} labels do not occur in the training data and are dropped "
                f"(data.unseen_labels=warn): {shown}{more}. Set data.unseen_labels=ignore to "
                "drop them silently, or error to stop",
                UserWarning,
                stacklevel=3,
            )

    def decode(self, row: Sequence[bool] | np.ndarray) -> list[str]:
        """Names of the classes set in a boolean (L,) row, in class order."""
        arr = np.asarray(row)
        if arr.shape != (len(self),):
            raise ValueError(f"decode expects a row of shape ({len(self)},), got {arr.shape}")
        return [self._classes[i] for i in np.flatnonzero(arr.astype(bool))]

    def _unseen(self, label: str, source: str | None, policy: str) -> None:
        if _check_policy(policy) == "error":
            raise DataError.at(
                source,
                f"label {label!r} does not occur in the training data",
                "Fix the label, or set data.unseen_labels to 'ignore' or 'warn' to drop such labels",
            )
        if policy == "warn" and label not in self._warned:
            self._warned.add(label)
            if self._pending is not None:
                self._pending.append((label, source))
                return
            where = f"{source}: " if source else ""
            warnings.warn(
                f"{where}label {label!r} does not occur in the training data; it is dropped (data.unseen_labels=warn)",
                stacklevel=4,
            )

    # -- labels.json ---------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict for ``labels.json`` in a run directory."""
        return {
            "format_version": FORMAT_VERSION,
            "task": self.task.value,
            "classes": list(self._classes),
            "train_counts": [int(c) for c in self.train_counts],
            "num_train_docs": self.num_train_docs,
            "unseen": self.unseen,
            "hierarchy": None if self.hierarchy is None else self.hierarchy.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str | Path | None = None) -> LabelSpace:
        """Rebuild from :meth:`to_json` output; ``source`` names the file in errors."""
        version = data.get("format_version") if isinstance(data, dict) else None
        if version != FORMAT_VERSION:
            raise DataError(
                f"labels.json has format_version {version!r}, this labelwise reads {FORMAT_VERSION}",
                "Use the labelwise version that wrote this run directory, or train again",
                path=source,
            )
        missing = [k for k in ("task", "classes") if k not in data]
        if missing:
            raise DataError(f"labels.json lacks the keys {missing}", "Train again", path=source)
        h = data.get("hierarchy")
        return cls(
            data["classes"],
            data["task"],
            train_counts=data.get("train_counts"),
            hierarchy=None if h is None else Hierarchy.from_json(h),
            unseen=data.get("unseen", "error"),
            num_train_docs=data.get("num_train_docs", 0),
        )

    def save(self, path: str | Path) -> None:
        """Write ``labels.json``."""
        from labelwise.checkpoint import write_text  # atomic: temporary file, then rename

        write_text(path, json.dumps(self.to_json(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> LabelSpace:
        """Read ``labels.json`` written by :meth:`save`."""
        p = Path(path)
        if not p.is_file():
            raise DataError(
                "labels.json not found", "Pass a run directory written by `labelwise train`", path=p
            )
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            line = getattr(err, "lineno", None)
            raise DataError(
                f"labels.json is not valid JSON ({err})", "Train again", path=p, line=line
            ) from None
        return cls.from_json(data, source=p)


def _need_hierarchy(hierarchy: Hierarchy | None) -> Hierarchy:
    if hierarchy is None:
        raise DataError(
            "task 'hierarchical' needs a label hierarchy",
            "Set data.hierarchy to a parent<TAB>child file (or 'auto' for a named dataset)",
        )
    return hierarchy
