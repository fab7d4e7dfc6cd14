"""Core data types passed between the stages of the pipeline (shapes documented)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import torch


class Task(str, Enum):
    """The label structure of a dataset."""

    MULTICLASS = "multiclass"  # exactly one label per document, softmax
    MULTILABEL = "multilabel"  # any number of labels, sigmoid + thresholds
    HIERARCHICAL = "hierarchical"  # labels are tree nodes, per-level outputs
    EXTREME = "extreme"  # multi-label with thousands of labels, top-k ranking

    @property
    def single_label(self) -> bool:
        """Exactly one label per document."""
        return self.value in _SINGLE_LABEL

    @property
    def hierarchical(self) -> bool:
        """Labels are nodes of a hierarchy (with per-level outputs)."""
        return self.value in _HIERARCHICAL


_SINGLE_LABEL = frozenset({"multiclass"})
_HIERARCHICAL = frozenset({"hierarchical"})


@dataclass(frozen=True)
class Example:
    """One document. ``source`` is "file:line" where it came from (for error messages)."""

    text: str
    labels: tuple[str, ...] = ()
    source: str | None = None


@dataclass
class Batch:
    """A padded batch of token ids.

    input_ids: (B, T) long; attention_mask: (B, T) bool, True on real tokens.
    targets: (B,) long class ids (multi-class) or (B, L) float multi-hot, or None at inference.
    doc_index: (R,) long when long documents are read in chunks: rows of ``input_ids`` are
    chunks and ``doc_index[r]`` is the document of row r; None when rows are documents.
    candidates: (D, S) long, each document's shortlisted label ids (``model.shortlist``), or
    None: every label is scored.
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    targets: torch.Tensor | None = None
    doc_index: torch.Tensor | None = None
    candidates: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> Batch:
        return Batch(
            self.input_ids.to(device),
            self.attention_mask.to(device),
            None if self.targets is None else self.targets.to(device),
            None if self.doc_index is None else self.doc_index.to(device),
            None if self.candidates is None else self.candidates.to(device),
        )

    @property
    def num_docs(self) -> int:
        if self.doc_index is None:
            return int(self.input_ids.shape[0])
        return int(self.doc_index.max().item()) + 1


@dataclass
class EncoderOutput:
    """token_states: (B, T, d); mask: (B, T) bool; pooled: (B, d); input_ids: (B, T) the
    token ids the states came from (set by the Classifier; heads that score tokens by id,
    such as PLANT's planted streams, read them)."""

    token_states: torch.Tensor
    mask: torch.Tensor
    pooled: torch.Tensor
    input_ids: torch.Tensor | None = None


@dataclass
class ModelOutput:
    """logits: (B, L). ``embeddings`` (B, p) optional, for contrastive losses;
    ``extras`` holds anything else a head wants to expose (e.g. attention weights)."""

    logits: torch.Tensor
    embeddings: torch.Tensor | None = None
    pooled: torch.Tensor | None = None
    extras: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass
class LossOutput:
    """total: scalar to back-propagate; parts: each named, unweighted term (detached)."""

    total: torch.Tensor
    parts: dict[str, torch.Tensor] = field(default_factory=dict)
