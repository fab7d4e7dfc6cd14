"""Label-wise attention (LAAT-style): every label attends to the tokens on its own.

For label l and token states H (T x d)::

    z_t  = tanh(W H_t)                      (attn_dim)
    a_l  = softmax_t(u_l . z_t)             over real tokens only
    c_l  = sum_t a_lt H_t                   (d)
    y_l  = w_l . c_l + b_l                  one weight vector per label

Labels are processed in chunks of ``label_chunk_size`` so the (B, L, T) attention is never
held for all labels at once; with ``checkpoint_chunks`` each chunk is recomputed in the
backward pass, so training memory is bounded by one chunk as well.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, PositiveInt
from torch import nn
from torch.utils.checkpoint import checkpoint

from labelwise.models.heads.base import Head
from labelwise.registry import HEADS
from labelwise.types import EncoderOutput, ModelOutput


def label_attention_chunk(
    z: torch.Tensor,
    h: torch.Tensor,
    mask: torch.Tensor,
    u: torch.Tensor,
    w: torch.Tensor,
    b: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and attention weights for one chunk of labels.

    Args:
        z: (B, T, a) tanh-projected token states.
        h: (B, T, d) token states.
        mask: (B, T) bool, True on real tokens.
        u: (l, a) attention query of each label in the chunk.
        w: (l, d) output weight vector of each label in the chunk.
        b: (l,) output bias of each label in the chunk.

    Returns:
        logits (B, l) and attention weights (B, l, T); weights are exactly 0 on pads and a
        row with no real token gets all-zero weights (its logit is the bias).
    """
    return attend(torch.matmul(z, u.t()), h, mask, w, b)  # scores (B, T, l), token-major


def attend(
    scores: torch.Tensor, h: torch.Tensor, mask: torch.Tensor, w: torch.Tensor, b: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax over the real tokens, context vectors and per-label logits.

    Args:
        scores: (B, T, l) attention scores, token-major: the layout a ``z @ u.T`` product
            writes and the softmax and the context read, so nothing is copied. Masked in
            place: pass a tensor no backward needs (a fresh product or sum).
        h: (B, T, d) token states.
        mask: (B, T) bool, True on real tokens.
        w: (l, d) output weights; b: (l,) output biases.

    Returns:
        logits (B, l) and attention weights (B, l, T); weights are exactly 0 on pads and a
        row with no real token gets all-zero weights (its logit is the bias).
    """
    real = mask.unsqueeze(2)  # (B, T, 1)
    if not bool(mask.all()):
        scores = scores.masked_fill_(~real, torch.finfo(scores.dtype).min)  # finite, never NaN
    attn = F.softmax(scores, dim=1)  # pads of a document with real tokens get exactly 0
    empty = ~mask.any(1)
    if bool(empty.any()):  # a document without real tokens: all weights 0, logit = bias
        attn = attn * (~empty)[:, None, None]
    context = torch.matmul(attn.transpose(1, 2), h)  # (B, l, d)
    logits = (context * w).sum(dim=-1) + b  # (B, l)
    return logits, attn.transpose(1, 2)


@HEADS.register("labelwise_attention")
class LabelAttentionHead(Head):
    """Per-label attention over the token states, then a per-label linear score.

    Args:
        in_dim: width d of the encoder's token states.
        num_labels: number of labels L.
        config: see ``LabelAttentionHead.Config``.

    Attributes:
        return_attention: when True, ``forward`` also returns the (B, L, T) weights in
            ``extras["attention"]``. Off by default: for thousands of labels it is large.
    """

    class Config(BaseModel):
        """Options of the label-wise attention head."""

        model_config = ConfigDict(extra="forbid")

        attn_dim: PositiveInt = 256
        label_chunk_size: PositiveInt | None = 512  # None: all labels at once
        dropout: float = Field(default=0.1, ge=0.0, lt=1.0)
        checkpoint_chunks: bool = False  # recompute chunks in backward to save memory
        return_attention: bool = False

    def __init__(
        self, in_dim: int, num_labels: int, config: LabelAttentionHead.Config | None = None
    ) -> None:
        super().__init__()
        self.config = config = config or LabelAttentionHead.Config()
        self.num_labels = num_labels
        self.drop = nn.Dropout(config.dropout)
        self.proj = nn.Linear(in_dim, config.attn_dim, bias=False)  # W
        self.label_query = nn.Parameter(torch.empty(num_labels, config.attn_dim))  # u_l
        self.label_weight = nn.Parameter(torch.empty(num_labels, in_dim))  # w_l
        self.label_bias = nn.Parameter(torch.zeros(num_labels))  # b_l
        nn.init.normal_(self.label_query, std=1.0 / math.sqrt(config.attn_dim))
        nn.init.normal_(self.label_weight, std=1.0 / math.sqrt(in_dim))
        self.return_attention = config.return_attention
        # None: score every label; a (l,) long tensor: only those (labelwise.models.heads.label_subset)
        self.label_subset: torch.Tensor | None = None

    def forward(self, enc: EncoderOutput) -> ModelOutput:
        """Logits (B, L) from ``enc.token_states`` (B, T, d) and ``enc.mask`` (B, T); (B, l)
        for the labels of ``label_subset`` when it is set."""
        h = self.drop(enc.token_states)  # (B, T, d)
        z = torch.tanh(self.proj(h))  # (B, T, a)
        mask = enc.mask.bool()
        parts = LabelParts(self.num_labels, self.label_subset)
        step = self.config.label_chunk_size or parts.count
        use_ckpt = self.config.checkpoint_chunks and torch.is_grad_enabled()

        def chunk(start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
            part = parts.select(start, stop)
            return label_attention_chunk(
                z, h, mask, self.label_query[part], self.label_weight[part], self.label_bias[part]
            )

        return run_label_chunks(chunk, parts.count, step, use_ckpt, self.return_attention)


class LabelParts:
    """The labels a head scores, in chunks: all ``num_labels`` (chunks are slices) or the
    ids of ``subset`` (chunks are index tensors, in the subset's order)."""

    def __init__(self, num_labels: int, subset: torch.Tensor | None) -> None:
        self.subset = subset
        self.count = num_labels if subset is None else int(subset.numel())

    def select(self, start: int, stop: int) -> slice | torch.Tensor:
        """Rows ``start:stop`` of the scored labels, to index (L, ...) parameters with."""
        return slice(start, stop) if self.subset is None else self.subset[start:stop]


def run_label_chunks(
    chunk: Callable[[int, int], tuple[torch.Tensor, torch.Tensor]],
    num_labels: int,
    step: int,
    use_checkpoint: bool,
    return_attention: bool,
) -> ModelOutput:
    """Run ``chunk(start, stop)`` -> (logits (B, l), attention (B, l, T)) over the labels in
    steps of ``step`` and join the logits (B, L), optionally recomputing each chunk in the
    backward pass (non-reentrant checkpoint) and keeping the (B, L, T) attention."""
    logits, attns = [], []
    for start in range(0, num_labels, step):
        stop = min(start + step, num_labels)
        if use_checkpoint:
            chunk_logits, attn = checkpoint(chunk, start, stop, use_reentrant=False)
        else:
            chunk_logits, attn = chunk(start, stop)
        logits.append(chunk_logits)  # (B, l)
        if return_attention:
            attns.append(attn)  # (B, l, T)
    out = ModelOutput(logits=torch.cat(logits, dim=1))  # (B, L)
    if return_attention:
        out.extras["attention"] = torch.cat(attns, dim=1)  # (B, L, T)
    return out
