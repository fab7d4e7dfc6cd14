"""Label shortlists: a handful of candidate labels per document for a neural head.

With tens of thousands of labels a label-wise attention head (``labelwise_attention``,
``plant``) costs far more than its encoder: every label attends over every token. A
shortlist (``model.shortlist``) lets a cheap model propose ``size`` labels per document, by
default a TF-IDF label tree (:mod:`labelwise.linear_tree`, whose cost grows with
log(labels)); the head then scores only those:

- in training, each batch scores its documents' positives plus their shortlisted labels,
  the negatives the proposer finds hardest to tell apart (plus uniform ones up to
  ``train.label_sample`` when that is set), instead of uniformly drawn ones;
- at prediction, each document's shortlist alone; every other label gets the logit
  :data:`labelwise.models.heads.label_subset.UNSCORED`.

A label the proposer misses cannot be predicted: :func:`recall` measures the share of true
labels a shortlist keeps, and the neural backend reports it on the validation split.

The proposer is stored in the run directory (``shortlist/``) as a TF-IDF linear model.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from labelwise.config import ShortlistConfig
from labelwise.models.heads.label_subset import UNSCORED


class Shortlister:
    """Proposes each document's ``size`` best labels by a fitted TF-IDF linear model."""

    def __init__(self, size: int, model: object) -> None:
        from labelwise.linear import TfidfLinear  # scikit-learn: imported only when used

        if not isinstance(model, TfidfLinear):
            raise TypeError(f"a shortlist proposes labels with a TfidfLinear model, not {type(model).__name__}")
        self.size = size
        self.model = model

    @classmethod
    def fit(cls, config: ShortlistConfig, texts: Sequence[str], targets: np.ndarray, task: str,
            seed: int = 0) -> Shortlister:
        """Fit the proposer on ``texts`` and their (N, L) multi-hot ``targets``.

        Raises:
            ValueError: a multi-class task (one label a document needs no shortlist).
        """
        from labelwise.linear import TfidfLinear

        if task == "multiclass" or targets.ndim != 2:
            raise ValueError(
                "model.shortlist proposes labels for multi-label, hierarchical and extreme tasks; "
                f"this task is {task}: remove model.shortlist"
            )
        model = TfidfLinear(**{"seed": seed, **config.linear})
        return cls(config.size, model.fit(list(texts), (targets > 0).astype(np.float32), task))

    @property
    def num_labels(self) -> int:
        return self.model.num_labels

    def candidates(self, texts: Sequence[str]) -> np.ndarray:
        """(N, min(size, L)) int64: each text's proposed label ids, best first."""
        return self.model.top_labels(list(texts), self.size)

    def save(self, directory: str | Path) -> Path:
        return self.model.save(directory)

    @classmethod
    def load(cls, directory: str | Path, size: int) -> Shortlister:
        from labelwise.linear import TfidfLinear

        return cls(size, TfidfLinear.load(directory))


def recall(candidates: np.ndarray, targets: np.ndarray) -> float:
    """The share of true (document, label) pairs of ``targets`` (N, L) multi-hot that the
    shortlists ``candidates`` (N, S) hold; 1.0 when there are none."""
    hits = np.take_along_axis(targets > 0, candidates, axis=1).sum()
    total = (targets > 0).sum()
    return float(hits / total) if total else 1.0


def keep_candidates(logits: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """``logits`` (N, L) with every label outside each row's ``candidates`` (N, S) set to
    ``UNSCORED``: full scores made what a shortlisted model gives."""
    out = np.full_like(logits, UNSCORED)
    np.put_along_axis(out, candidates, np.take_along_axis(logits, candidates, axis=1), axis=1)
    return out
