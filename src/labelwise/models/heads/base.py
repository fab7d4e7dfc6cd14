"""What every head is: ``EncoderOutput -> ModelOutput``, and the hooks the neural backend calls.

A head may:

- read only the pooled vector (``pooled_only``): with a frozen encoder the trainer then
  caches the pooled vectors and trains the head alone on them;
- complete its parameters from what only the data decides (``complete_spec``: e.g. the
  PLANT head's ``vocab_size`` is the tokenizer's);
- learn from the training set before training starts (``prepare``: PLANT's mutual
  information and learning-to-rank stage, planted into its buffers).

A head that can score a subset of its labels has a ``label_subset`` attribute
(:mod:`labelwise.models.heads.label_subset`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import nn

from labelwise.types import EncoderOutput, ModelOutput

if TYPE_CHECKING:
    from labelwise.data.tokenize import TextTokenizer


@dataclass
class PrepareData:
    """What a head may learn from before training.

    Attributes:
        token_docs: returns each training document's token ids (a chunked document's
            chunks joined); called only by heads that need them.
        targets: (N, L) multi-hot, or (N,) class ids.
        tokenizer: the run's tokenizer (vocabulary size, special tokens).
        settings: the run config's section for this head's stage (``plant``), or None.
        run_dir: the run directory (None: nothing is read or written).
        write: whether this process writes into ``run_dir`` (rank 0 under torchrun).
        resume: the run continues an interrupted one: a completed stage is reused.
        seed: seeds the stage.
        progress: show progress bars.
        device: where the stage computes.
    """

    token_docs: Callable[[], Sequence[Sequence[int]]]
    targets: np.ndarray
    tokenizer: TextTokenizer
    settings: Any = None
    run_dir: Path | None = None
    write: bool = True
    resume: bool = False
    seed: int = 0
    progress: bool = False
    device: torch.device | str = "cpu"


class Head(nn.Module):
    """Base class of the heads: ``forward(EncoderOutput) -> ModelOutput`` with logits (B, L)."""

    pooled_only: ClassVar[bool] = False  # reads enc.pooled only (frozen features can be cached)

    @classmethod
    def complete_spec(cls, spec: dict[str, Any], vocab_size: int) -> dict[str, Any]:
        """The head's parameters as configured, plus what only the data decides (the
        tokenizer's ``vocab_size``). Called before building, at training and at loading."""
        return spec

    def prepare(self, data: PrepareData) -> dict[str, Any]:
        """Learn from the training set before training (nothing by default). Returns a
        JSON-able summary kept in the run's training state."""
        return {}

    def forward(self, enc: EncoderOutput) -> ModelOutput:  # pragma: no cover - abstract
        raise NotImplementedError
