"""Scoring a subset of the labels: the training-time label shortlist of extreme tasks.

With thousands of labels a label-wise attention head costs far more than the encoder: every
label attends over every token. ``train.label_sample: N`` makes each training step score
only the batch's positive labels plus negatives drawn uniformly from the rest, N labels in
all (more when the batch has more positives: every positive is always kept), and computes
the loss on those columns. Evaluation and prediction always score every label.

A head that can do this has a ``label_subset`` attribute: None (every label, the default)
or a (l,) long tensor of label ids; its ``forward`` then returns logits (B, l) in that
order. :func:`scoring_labels` sets it for the length of a ``with`` block.

This is a sampled approximation of the full loss: a label's negatives are seen in about
``(N - positives) / L`` of the steps, so absolute scores of rare labels run higher than
with the full loss; rankings (P@k, nDCG@k) suffer least, and the decision threshold is
tuned on validation anyway.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


def supports_label_subset(head: nn.Module) -> bool:
    """Whether ``head`` can score a subset of its labels (has ``label_subset``)."""
    return hasattr(head, "label_subset")


def sample_labels(targets: torch.Tensor, budget: int, generator: torch.Generator) -> torch.Tensor:
    """Label ids to score for one batch: every label with a positive in ``targets`` (B, L)
    plus uniformly drawn other labels, ``max(budget, positives)`` ids in all, sorted.

    Args:
        targets: (B, L) multi-hot (any value > 0 counts as positive).
        budget: labels wanted per batch (all of them when ``budget >= L``).
        generator: a CPU generator; the same state draws the same negatives.
    """
    if budget < 1:
        raise ValueError(f"label budget must be >= 1, got {budget}")
    num_labels = targets.shape[1]
    if budget >= num_labels:
        return torch.arange(num_labels, device=targets.device)
    positive = (targets > 0).any(dim=0).cpu()  # (L,)
    negatives = torch.nonzero(~positive).flatten()
    wanted = min(max(budget - int(positive.sum()), 0), len(negatives))
    drawn = negatives[torch.randperm(len(negatives), generator=generator)[:wanted]]
    chosen = torch.cat([torch.nonzero(positive).flatten(), drawn]).sort().values
    return chosen.to(targets.device)


@contextmanager
def scoring_labels(head: nn.Module, labels: torch.Tensor | None) -> Iterator[None]:
    """Within the block ``head`` scores only ``labels`` (l,), returning logits (B, l).

    Raises:
        ValueError: ``labels`` given and the head cannot score a subset.
    """
    if labels is None:
        yield
        return
    if not supports_label_subset(head):
        raise ValueError(
            f"train.label_sample needs a head that can score a subset of the labels "
            f"(labelwise_attention, plant or linear); '{type(head).__name__}' cannot: "
            "remove train.label_sample"
        )
    previous = head.label_subset
    head.label_subset = labels
    try:
        yield
    finally:
        head.label_subset = previous
