"""TF-IDF features + one-vs-rest linear models (scikit-learn), no torch involved."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from labelwise import checkpoint as ckpt
from labelwise import distributed
from labelwise.backends.base import FitContext, Split
from labelwise.config import Config
from labelwise.progress import make_progress

PROGRESS_MIN_LABELS = 100  # fewer labels fit in seconds: no bar

if TYPE_CHECKING:
    from labelwise.linear import TfidfLinear


class LinearBackend:
    """The TF-IDF linear model (:class:`labelwise.linear.TfidfLinear`) as a backend."""

    kind = "linear"

    def __init__(self, cfg: Config) -> None:
        from labelwise.linear import TfidfLinear  # scikit-learn: imported only when used (~1.5 s)

        self.cfg = cfg
        self.model: TfidfLinear = TfidfLinear(config=TfidfLinear.Config(**cfg.model.linear))
        self.train_state: dict[str, Any] = {}

    def fit(self, train: Split, valid: Split, ctx: FitContext) -> None:
        """Fit on ``train``; the validation split tunes the task's thresholds and, with a
        list of C values, chooses C by the primary metric."""
        t0 = time.perf_counter()
        primary, sign = ctx.search_metric
        C = self.model.config.C
        searched = isinstance(C, list) and (ctx.measure or ctx.validate) is not None
        tree = self.model.config.tree
        fits = (len(C) if isinstance(C, list) else 1) * (tree.trees if tree is not None else 1)
        n = train.y.shape[1]
        shown = self.cfg.train.progress and n >= PROGRESS_MIN_LABELS and distributed.is_main()
        with make_progress(shown) as progress:
            texts = list(train.texts)
            reading = progress.add_task("features", total=len(texts), info=f"{len(texts)} texts")
            bar = progress.add_task("linear fits", total=n * fits, info=f"{n} labels x {fits} fits")
            self.model.fit(texts, train.y, ctx.task.linear_kind,
                           valid_texts=list(valid.texts) if searched else None, judge=ctx.rate if searched else None,
                           on_labels=lambda k: progress.update(bar, advance=k),
                           on_documents=lambda k: progress.update(reading, advance=k))
        if searched and ctx.validate is not None:
            ctx.validate(self.logits(valid.texts))  # the choice, reported once
        self.train_state = {"train_seconds": time.perf_counter() - t0, "C": self.model.C_}
        if self.model.C_search_:
            by_c = {c: sign * v for c, v in self.model.C_search_.items()}
            self.train_state["valid_" + primary + "_by_C"] = {str(c): v for c, v in by_c.items()}
            if distributed.is_main():
                tried = ", ".join(f"{v:.4f} at C={c:g}" for c, v in by_c.items())
                print(f"labelwise: linear model: C={self.model.C_:g} chosen on validation "
                      f"({primary} {tried})", file=sys.stderr)

    def logits(self, texts: Sequence[str], on_batch: Callable[[int], None] | None = None,
               shard: bool = False) -> np.ndarray:
        out = self.model.decision_function(list(texts))
        if on_batch is not None:
            on_batch(len(texts))
        return np.asarray(out, dtype=np.float32)

    def embed(self, texts: Sequence[str], which: str = "pooled") -> np.ndarray:
        raise ValueError("embed() needs a neural model; the TF-IDF linear model has no encoder")

    def network(self) -> Any:
        raise ValueError("the TF-IDF linear model has no network to export; use it with "
                         "TextClassifier.load or 'labelwise predict' instead")

    def save(self, run_dir: Path) -> None:
        self.model.save(run_dir)

    def load(self, run_dir: Path, num_labels: int) -> None:
        self.model = type(self.model).load(run_dir)
        n = self.model.num_labels if hasattr(self.model, "num_labels") else num_labels
        if n != num_labels:
            raise ckpt.CheckpointError(
                f"{run_dir}: the linear model has {n} labels but labels.json has {num_labels}"
            )
