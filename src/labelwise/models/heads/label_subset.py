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

A shortlist (``model.shortlist``, :mod:`labelwise.shortlist`) gives each document its own
candidate labels. In training they join the batch's positives as hard negatives
(:func:`sample_labels` with ``candidates``); at prediction :func:`shortlisted_logits` scores
the union of the batch's candidates once and gives every other label of a document the
logit ``UNSCORED``, so the cost per document follows the shortlist, not the label count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn


def supports_label_subset(head: nn.Module) -> bool:
    """Whether ``head`` can score a subset of its labels (has ``label_subset``)."""
    return hasattr(head, "label_subset")


# the logit of a label outside a document's shortlist: below any score a head gives, and
# as the linear tree's unreached labels (labelwise.linear.UNREACHED)
UNSCORED = -1e4


def check_label_subset_training(head: nn.Module, loss: nn.Module, key: str) -> None:
    """Training on label subsets (``key``: the setting that asks for it) needs a head that
    scores subsets and a loss that is a sum of per-label terms.

    Raises:
        ValueError: naming ``key`` and the fix.
    """
    if not supports_label_subset(head):
        raise ValueError(
            f"{key} needs a head that can score a subset of the labels (labelwise_attention, plant "
            f"or linear), not '{type(head).__name__}': change model.head or remove {key}"
        )
    if not getattr(loss, "label_separable", False):
        raise ValueError(
            f"{key} needs a loss that is a sum of per-label terms (bce without pos_weight: "
            f"balanced, focal or asl), not '{type(loss).__name__}': change the loss or remove {key}"
        )


def sample_labels(targets: torch.Tensor, budget: int | None, generator: torch.Generator,
                  candidates: torch.Tensor | None = None) -> torch.Tensor:
    """Label ids to score for one batch, sorted: every label with a positive in
    ``targets`` (B, L), every label among the batch's ``candidates`` (a shortlist's hard
    negatives), then uniformly drawn other labels up to ``budget`` ids in all.

    Args:
        targets: (B, L) multi-hot (any value > 0 counts as positive).
        budget: labels wanted per batch (all of them when ``budget >= L``); None: no
            uniform draw (with ``candidates``; without them, every label).
        generator: a CPU generator; the same state draws the same negatives.
        candidates: (B, S) label ids, or None.
    """
    if budget is not None and budget < 1:
        raise ValueError(f"label budget must be >= 1, got {budget}")
    num_labels = targets.shape[1]
    if candidates is None and (budget is None or budget >= num_labels):
        return torch.arange(num_labels, device=targets.device)
    kept = (targets > 0).any(dim=0).cpu()  # (L,)
    if candidates is not None:
        kept[candidates.flatten().cpu()] = True
    rest = torch.nonzero(~kept).flatten()
    wanted = 0 if budget is None else min(max(budget - int(kept.sum()), 0), len(rest))
    drawn = rest[torch.randperm(len(rest), generator=generator)[:wanted]]
    chosen = torch.cat([torch.nonzero(kept).flatten(), drawn]).sort().values
    return chosen.to(targets.device)


def shortlisted_logits(head: nn.Module, candidates: torch.Tensor,
                       score: Callable[[], torch.Tensor]) -> torch.Tensor:
    """(B, L) logits where each document's ``candidates`` (B, S) are scored and every other
    label is ``UNSCORED``. ``score()`` runs the model; it is called once, with ``head``
    scoring the union of the batch's candidates, so its cost follows that union.

    A candidate's logit is the one the head gives it when scoring every label.
    """
    union, position = torch.unique(candidates, return_inverse=True)  # position: (B, S) in union
    with scoring_labels(head, union):
        scored = score()  # (B, |union|)
    num_labels = head.num_labels
    assert isinstance(num_labels, int)
    full = scored.new_full((scored.shape[0], num_labels), UNSCORED)
    return full.scatter_(1, candidates, scored.gather(1, position))


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
            f"scoring a subset of the labels (train.label_sample, model.shortlist) needs a head "
            f"that can (labelwise_attention, plant or linear); '{type(head).__name__}' cannot: "
            "change model.head"
        )
    previous = head.label_subset
    head.label_subset = labels
    try:
        yield
    finally:
        head.label_subset = previous
