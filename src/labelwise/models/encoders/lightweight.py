"""The cost-saving parts of the multi-level encoder: local attention in blocks, sequence
compression for global attention, and low-rank MLPs.

* ``LocalSelfAttention`` lets token i see tokens j with |i - j| <= w only, computed on
  blocks of w queries against their own and the two neighbouring blocks of keys, so time
  and memory grow as O(T * 3w) rather than O(T^2).
* ``SequenceCompressor`` shortens the keys/values of global attention by a factor ``s``
  (queries keep full length, so global attention costs O(T * T/s) instead of O(T^2)).
* ``LowRankFeedForward`` factorises each weight of the position-wise MLP through a rank-r
  bottleneck, so an MLP of width ``d_ff`` costs ``2 r (d + d_ff)`` weights instead of
  ``2 d d_ff``.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from labelwise.models.encoders.common import FeedForward, MultiHeadSelfAttention

# ----------------------------------------------------------------------------------------
# local attention in blocks


def band_mask(T: int, window: int, device: torch.device | None = None) -> torch.Tensor:
    """(T, T) bool, True where |i - j| <= window: the dense reference for local attention."""
    pos = torch.arange(T, device=device)  # (T,)
    return (pos[:, None] - pos[None, :]).abs() <= window


def blocked_local_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    key_mask: torch.Tensor,
    window: int,
    dropout_p: float = 0.0,
) -> torch.Tensor:
    """Exact banded attention (|i - j| <= window) at a cost linear in T.

    Queries are cut into blocks of ``window``; block n sees the keys of blocks n-1, n, n+1
    (3 * window keys, which cover every key in the band of each of its queries), and a fixed
    (window, 3 * window) band mask removes the keys outside each query's own band.

    Args:
        q, k, v: (B, H, T, hd) queries, keys and values.
        key_mask: (B, T) bool, True on real tokens.
        window: w >= 1, how many neighbours each side a query may see.
        dropout_p: dropout on the attention weights.

    Returns:
        (B, H, T, hd). A query with no real key in its band (only a pad can be one) sees
        all keys of its blocks, so its output is finite.
    """
    B, H, T, hd = q.shape
    w = window
    nb = (T + w - 1) // w  # number of blocks, ceil(T / w) (no negative floor division: ONNX)
    fill = nb * w - T  # filler positions that complete the last block

    def windows(x: torch.Tensor) -> torch.Tensor:
        """(B, H, T, hd) -> (B, H, nb, 3w, hd): one empty block before and after, then
        blocks n, n+1, n+2 side by side (what ``unfold(2, 3w, w)`` would cut out; built by
        concatenation because ``unfold`` over a dynamic length does not export to ONNX)."""
        blocks = F.pad(x, (0, 0, w, w + fill)).view(B, H, nb + 2, w, hd)
        return torch.cat([blocks[:, :, :-2], blocks[:, :, 1:-1], blocks[:, :, 2:]], dim=3)

    q = F.pad(q, (0, 0, 0, fill)).view(B, H, nb, w, hd)  # (B, H, nb, w, hd)
    k, v = windows(k), windows(v)  # 2 x (B, H, nb, 3w, hd)
    rb = F.pad(key_mask.long(), (w, w + fill)).view(B, nb + 2, w)  # (B, nb + 2, w)
    real = torch.cat([rb[:, :-2], rb[:, 1:-1], rb[:, 2:]], dim=2).bool()  # (B, nb, 3w)

    # query a of block n sits at n*w + a, key c of its window at n*w - w + c
    offset = torch.arange(3 * w, device=q.device)[None, :] - w  # (1, 3w)
    offset = offset - torch.arange(w, device=q.device)[:, None]  # (w, 3w): j - i
    allowed = real[:, None, :, None, :] & (offset.abs() <= w)  # (B, 1, nb, w, 3w)
    allowed = allowed | ~allowed.any(dim=-1, keepdim=True)  # no NaN on pad-only rows

    y = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, dropout_p=dropout_p)
    return y.reshape(B, H, nb * w, hd)[:, :, :T]  # (B, H, nb, w, hd) -> (B, H, T, hd)


class LocalSelfAttention(MultiHeadSelfAttention):
    """Multi-head self-attention restricted to ``window`` neighbours on each side.

    Same parameters as ``MultiHeadSelfAttention`` (so a dense attention with
    ``attn_mask=band_mask(T, window)`` and the same weights is its exact reference), but
    computed block by block in O(T * window).

    Args:
        d_model: model width; must be divisible by ``n_heads``.
        n_heads: number of heads.
        window: neighbours each side (>= 1).
        dropout: dropout on the attention weights and on the output projection.
    """

    def __init__(self, d_model: int, n_heads: int, window: int, dropout: float = 0.0) -> None:
        super().__init__(d_model, n_heads, dropout)
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self.window = window

    def forward(
        self,
        x: torch.Tensor,
        key_padding_mask: torch.Tensor,
        attn_mask: torch.Tensor | None = None,
        memory: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(B, T, d) -> (B, T, d); ``key_padding_mask`` (B, T) bool, True on real tokens.

        ``attn_mask`` and ``memory`` exist for signature compatibility and must be None (the
        band is the mask, and local attention is self-attention).
        """
        if attn_mask is not None or memory is not None:
            raise ValueError("LocalSelfAttention takes neither attn_mask nor memory")
        B, T, d = x.shape
        q = self._split_heads(self.q_proj(x))  # (B, H, T, hd)
        k, v = self.kv_proj(x).split(d, dim=-1)  # 2 x (B, T, d)
        k, v = self._split_heads(k), self._split_heads(v)  # 2 x (B, H, T, hd)
        p = self.dropout if self.training else 0.0
        y = blocked_local_attention(q, k, v, key_padding_mask, self.window, p)  # (B, H, T, hd)
        y = y.transpose(1, 2).reshape(B, T, d)  # (B, T, H * hd)
        return self.out_drop(self.out_proj(y))


# ----------------------------------------------------------------------------------------
# compression of the sequence along time


class SequenceCompressor(nn.Module):
    """Pools a (B, T, d) sequence by ``factor`` along time, keeping track of padding.

    The sequence is cut into consecutive windows of ``factor`` tokens starting at position
    0 (the last one is completed with pads). A pooled slot is real when any of its tokens
    is real. Windows never move when pads are appended, so right padding changes nothing.

    Args:
        d_model: width of the states.
        factor: compression factor s >= 1 (1 returns the input unchanged).
        mode: "strided" averages the real tokens of each window (no parameters);
            "learned" applies a depthwise Conv1d (kernel = stride = s) to the sequence with
            pads zeroed. Its weights start as an average, i.e. equal to "strided" on full
            windows.
        slots: instead of a fixed factor, average each document's n real tokens into
            ``slots`` consecutive segments of about n / slots tokens (token i goes to slot
            ``i * slots // n``). The stride grows with the document, so attending over the
            slots costs O(T * slots): linear in the length. Depends only on each row's real
            tokens, so padding changes nothing either.
    """

    def __init__(
        self,
        d_model: int,
        factor: int,
        mode: Literal["strided", "learned"] = "strided",
        slots: int | None = None,
    ) -> None:
        super().__init__()
        if factor < 1:
            raise ValueError(f"compression factor must be >= 1, got {factor}")
        if mode not in ("strided", "learned"):
            raise ValueError(f"unknown compress_mode '{mode}'; expected 'strided' or 'learned'")
        if slots is not None and (slots < 1 or factor != 1 or mode != "strided"):
            raise ValueError(
                f"compress_slots={slots} pools each document into a fixed number of slots: it "
                "needs compress_slots >= 1, compress=1 and compress_mode='strided'"
            )
        self.factor = factor
        self.mode = mode
        self.slots = slots
        self.conv: nn.Conv1d | None = None
        if mode == "learned" and factor > 1:
            self.conv = nn.Conv1d(d_model, d_model, factor, stride=factor, groups=d_model)
            self.reset_parameters()

    def reset_parameters(self) -> None:
        """Start the learned pooling as a plain average (weights 1/s, no bias)."""
        if self.conv is not None:
            nn.init.constant_(self.conv.weight, 1.0 / self.factor)
            if self.conv.bias is not None:
                nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Compress ``x`` along time.

        Args:
            x: (B, T, d) states.
            mask: (B, T) bool, True on real tokens.

        Returns:
            ``(pooled, pooled_mask)``: (B, S, d) and (B, S) bool with S = ceil(T / s).
        """
        if self.slots is not None:
            return self._pool_slots(x, mask, self.slots)
        s = self.factor
        if s == 1:
            return x, mask
        B, T, d = x.shape
        S = (T + s - 1) // s  # ceil(T / s)
        x = x.masked_fill(~mask.unsqueeze(-1), 0.0)  # pads contribute nothing
        x = F.pad(x, (0, 0, 0, S * s - T))  # (B, S*s, d)
        m = F.pad(mask, (0, S * s - T))  # (B, S*s), the filler is padding
        counts = m.view(B, S, s).sum(dim=-1)  # (B, S) real tokens per window
        pooled_mask = counts > 0  # (B, S)
        if self.conv is not None:
            pooled = self.conv(x.transpose(1, 2)).transpose(1, 2)  # (B, d, S) -> (B, S, d)
        else:
            total = x.view(B, S, s, d).sum(dim=2)  # (B, S, d)
            pooled = total / counts.clamp_min(1).unsqueeze(-1).to(x.dtype)  # (B, S, d)
        return pooled, pooled_mask

    @staticmethod
    def _pool_slots(
        x: torch.Tensor, mask: torch.Tensor, slots: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, d) -> (B, slots, d): mean of each document's real tokens per segment."""
        B, T, d = x.shape
        rank = mask.long().cumsum(dim=1) - 1  # (B, T) index among the row's real tokens
        n = mask.sum(dim=1, keepdim=True).clamp_min(1)  # (B, 1)
        slot = torch.div(rank.clamp_min(0) * slots, n, rounding_mode="floor")  # (B, T)
        slot = slot.masked_fill(~mask, slots)  # pads go to an extra slot, dropped below
        x = x.masked_fill(~mask.unsqueeze(-1), 0.0)
        total = x.new_zeros(B, slots + 1, d).scatter_add(1, slot.unsqueeze(-1).expand(B, T, d), x)
        counts = x.new_zeros(B, slots + 1).scatter_add(1, slot, mask.to(x.dtype))  # (B, S+1)
        total, counts = total[:, :slots], counts[:, :slots]
        return total / counts.clamp_min(1).unsqueeze(-1), counts > 0


# ----------------------------------------------------------------------------------------
# low-rank feed-forward


class LowRankLinear(nn.Module):
    """A linear map with a rank-r weight: ``Linear(d_in, r, bias=False)`` then ``Linear(r, d_out)``."""

    def __init__(self, d_in: int, d_out: int, rank: int) -> None:
        super().__init__()
        self.down = nn.Linear(d_in, rank, bias=False)
        self.up = nn.Linear(rank, d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.down(x))

    @torch.no_grad()
    def copy_truncated_svd(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        """Set the factors to the best rank-r approximation of a full (d_out, d_in) weight.

        With ``W = U diag(S) V^T``, ``down`` gets ``sqrt(S_r) V_r^T`` and ``up`` gets
        ``U_r sqrt(S_r)``, so ``up @ down`` is the truncated SVD of ``W``.
        """
        r = self.down.out_features
        U, S, Vh = torch.linalg.svd(weight.float(), full_matrices=False)
        root = S[:r].sqrt()  # (r,)
        self.down.weight.copy_(root[:, None] * Vh[:r])  # (r, d_in)
        self.up.weight.copy_(U[:, :r] * root[None, :])  # (d_out, r)
        self.up.bias.copy_(bias)


class LowRankFeedForward(nn.Module):
    """The position-wise MLP with both weights factorised through rank ``rank``.

    Same attribute names (``fc_in``, ``fc_out``, ``drop``) and forward as ``FeedForward``:
    ``Linear(d, r) - Linear(r, d_ff) - GELU - Linear(d_ff, r) - Linear(r, d) - dropout``.
    """

    def __init__(self, d_model: int, d_ff: int, rank: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.fc_in = LowRankLinear(d_model, d_ff, rank)
        self.fc_out = LowRankLinear(d_ff, d_model, rank)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc_out(F.gelu(self.fc_in(x))))


def max_useful_rank(d_model: int, d_ff: int) -> int:
    """The largest rank whose factorised MLP has fewer weights than the full one."""
    return (d_model * d_ff - 1) // (d_model + d_ff)


def make_feed_forward(
    d_model: int, d_ff: int, rank: int | None, dropout: float
) -> FeedForward | LowRankFeedForward:
    """The ordinary MLP when ``rank`` is None, else its low-rank version.

    Raises:
        ValueError: ``rank`` so large that factorising would not save weights.
    """
    if rank is None:
        return FeedForward(d_model, d_ff, dropout)
    limit = max_useful_rank(d_model, d_ff)
    if rank > limit:
        raise ValueError(
            f"ffn_rank={rank} saves no weights for d_model={d_model}, d_ff={d_ff}; "
            f"use ffn_rank <= {limit}, or ffn_rank=None for the full feed-forward"
        )
    return LowRankFeedForward(d_model, d_ff, rank, dropout)
