"""Seeded samples of a training set: ``k`` examples of each class (few-shot data)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from labelwise.types import Example


def per_class_sample(examples: Sequence[Example], k: int, seed: int) -> tuple[list[Example], list[Example]]:
    """``k`` seeded examples of every class, and the examples left: ``(sample, rest)``, each in
    the input's order. One label per example (a multi-class or binary set); a class with
    fewer than ``k`` examples gives all it has. The same seed gives the same sample, and
    the sample for a larger ``k`` holds the one for a smaller ``k`` (a learning curve adds
    examples instead of drawing new ones)."""
    if k < 1:
        raise ValueError(f"k must be at least 1 (examples per class), got {k}")
    by_class: dict[str, list[int]] = defaultdict(list)
    for i, ex in enumerate(examples):
        if len(ex.labels) != 1:
            where = f" ({ex.source})" if ex.source else ""
            raise ValueError(f"example #{i}{where} has {len(ex.labels)} labels; a per-class sample needs "
                             "exactly one label per example (a multi-class or binary set)")
        by_class[ex.labels[0]].append(i)
    rng = np.random.default_rng(seed)
    chosen: set[int] = set()
    for label in sorted(by_class):
        order = rng.permutation(len(by_class[label]))
        chosen.update(by_class[label][j] for j in order[:k])
    sample = [ex for i, ex in enumerate(examples) if i in chosen]
    rest = [ex for i, ex in enumerate(examples) if i not in chosen]
    return sample, rest
