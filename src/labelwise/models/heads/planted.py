"""Pure tensor functions of the PLANT head's planted streams: the token ids they look up,
and inattention (each stream adds attention to a label's top-k tokens only; see
:mod:`labelwise.models.heads.plant` for the modes)."""

from __future__ import annotations

import math
from typing import Literal

import torch

InattentionMode = Literal["margin", "zero"]


def inattention(
    scores: torch.Tensor, mask: torch.Tensor, k: int | None, mode: InattentionMode = "margin"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep each (document, label)'s top-k real tokens of one planted stream.

    Args:
        scores: (B, l, T) planted stream scores.
        mask: (B, T) bool, True on real tokens.
        k: tokens kept per (document, label); None keeps every real token.
        mode: ``"margin"`` (kept tokens get ``score - smallest kept score``) or ``"zero"``
            (kept tokens get their score); see the module docstring.

    Returns:
        ``(contribution, keep)``: contribution (B, l, T), 0 wherever ``keep`` is False;
        keep (B, l, T) bool with exactly ``min(k, n_b)`` True entries per (b, l), all on
        real tokens (``n_b`` = number of real tokens of document b); among tied scores the
        earlier tokens are kept.
    """
    if k is not None and k < 1:
        raise ValueError(f"inattention k must be >= 1 or None, got {k}")
    if mode not in ("margin", "zero"):
        raise ValueError(f"inattention mode must be 'margin' or 'zero', got {mode!r}")
    real = mask.bool()[:, None, :]  # (B, 1, T)
    t = scores.shape[-1]
    if k is None or k >= t:
        keep = real.expand_as(scores)
    else:
        ranked = scores.detach().masked_fill(~real, -math.inf)  # pads never beat real tokens
        # a stable sort breaks ties in favour of the earlier token, whatever the padding
        top = torch.sort(ranked, dim=-1, descending=True, stable=True).indices[..., :k]
        keep = torch.zeros_like(scores, dtype=torch.bool).scatter_(-1, top, True) & real
    zeros = torch.zeros_like(scores)
    if mode == "zero":
        return torch.where(keep, scores, zeros), keep
    weakest = torch.where(keep, scores, torch.full_like(scores, math.inf)).amin(-1, keepdim=True)
    weakest = torch.where(keep.any(-1, keepdim=True), weakest, zeros[..., :1])  # (B, l, 1)
    return torch.where(keep, scores - weakest, zeros), keep


def margin_inattention(
    scores: torch.Tensor, mask: torch.Tensor, k: int | None
) -> torch.Tensor:
    """The contribution of :func:`inattention` in ``"margin"`` mode, without its sort.

    In margin mode a kept token gets ``score - m`` with ``m`` the smallest kept score, so
    the contribution is ``relu(score - m)`` on real tokens: a token tied with ``m`` gets 0
    whether kept or not, and ``m`` is the ``min(k, n)``-th largest real score, which
    ``topk`` finds without sorting all T scores of every (document, label). Same values as
    ``inattention(scores, mask, k, "margin")[0]`` (scores (B, l, T)); same gradient
    wherever no scores tie at the cut.
    """
    out = margin_over_tokens(scores.transpose(1, 2), mask.bool()[:, :, None], k)
    return out.masked_fill(~mask.bool()[:, :, None], 0.0).transpose(1, 2)


def margin_over_tokens(
    scores: torch.Tensor, real: torch.Tensor | None, k: int | None
) -> torch.Tensor:
    """:func:`margin_inattention` on token-major scores (B, T, l), the head's layout.

    ``real`` is (B, T, 1) bool, True on real tokens, or None when every position is real.
    Pads get finite values, not 0: the head's softmax masks them.
    """
    if k is not None and k < 1:
        raise ValueError(f"inattention k must be >= 1 or None, got {k}")
    t = scores.shape[1]
    if k is None or k >= t:  # every real token kept: the cut is the lowest real score
        masked = scores if real is None else scores.masked_fill(~real, math.inf)
        cut = masked.amin(1, keepdim=True)  # (B, 1, l)
    else:
        ranked = scores if real is None else scores.masked_fill(~real, -math.inf)
        cut = ranked.topk(k, dim=1).values[:, -1:, :]  # (B, 1, l), the k-th largest
        if real is not None:
            counts = real.sum(1, keepdim=True)  # (B, 1, 1) real tokens per document
            short = counts < k
            if bool(short.any()):  # fewer than k real tokens: keep them all, cut at the lowest
                rows = short.flatten().nonzero().flatten()
                lowest = scores[rows].masked_fill(~real[rows], math.inf).amin(1, keepdim=True)
                cut = cut.index_put((rows,), lowest)
    if real is not None:
        cut = cut.masked_fill(~real.any(1, keepdim=True), 0.0)  # no real token: nothing kept
    return torch.relu(scores - cut)


def planted_token_ids(ids: torch.Tensor | None, mask: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """(B, T) ids of the real tokens, pads replaced by 0; checked against the vocabulary."""
    if ids is None:
        raise ValueError(
            "the PLANT head's static stream needs the token ids: EncoderOutput.input_ids "
            "is None (the Classifier sets it; set it yourself when calling the head directly)"
        )
    if ids.shape != mask.shape:
        raise ValueError(
            f"input_ids shape {tuple(ids.shape)} != token mask shape {tuple(mask.shape)}"
        )
    ids = ids.long().masked_fill(~mask, 0)
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise ValueError(
            f"token ids must lie in [0, {vocab_size}) (the head's vocab_size), "
            f"got ids in [{int(ids.min())}, {int(ids.max())}]"
        )
    return ids
