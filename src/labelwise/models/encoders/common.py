"""Building blocks shared by the encoders: masked pooling and a pre-norm attention block.

The attention module and the transformer block are kept small and self-contained so that
other encoders (e.g. a multi-level global/local attention encoder) can reuse them: pass an
extra ``attn_mask`` for a banded window, or ``memory`` for attention over compressed keys.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# ----------------------------------------------------------------------------------------
# pooling


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` over the real positions; a row with no real position gives zeros.

    Args:
        x: (B, T, d) states.
        mask: (B, T) bool, True on real tokens.

    Returns:
        (B, d) mean over the positions where ``mask`` is True.
    """
    m = mask.unsqueeze(-1).to(x.dtype)  # (B, T, 1)
    total = (x * m).sum(dim=1)  # (B, d)
    count = m.sum(dim=1).clamp_min(1.0)  # (B, 1)
    return total / count


def masked_max(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Max of ``x`` over the real positions; a row with no real position gives zeros.

    Args:
        x: (B, T, d) states.
        mask: (B, T) bool, True on real tokens.

    Returns:
        (B, d) element-wise max over the positions where ``mask`` is True.
    """
    very_small = torch.finfo(x.dtype).min
    filled = x.masked_fill(~mask.unsqueeze(-1), very_small)  # (B, T, d)
    best = filled.max(dim=1).values  # (B, d)
    has_token = mask.any(dim=1, keepdim=True)  # (B, 1)
    return torch.where(has_token, best, torch.zeros_like(best))


def pool(x: torch.Tensor, mask: torch.Tensor, how: str) -> torch.Tensor:
    """Pool (B, T, d) states to (B, d) with ``how`` in {"mean", "max", "cls"}.

    "cls" takes the first position (the caller puts a real token there).
    """
    if how == "mean":
        return masked_mean(x, mask)
    if how == "max":
        return masked_max(x, mask)
    if how == "cls":
        return x[:, 0]
    raise ValueError(f"unknown pooling '{how}'; expected one of: mean, max, cls")


# ----------------------------------------------------------------------------------------
# attention


class MultiHeadSelfAttention(nn.Module):
    """Multi-head attention over ``memory`` (defaults to ``x``, i.e. self-attention).

    Masks are boolean with True meaning "may attend". A query row whose keys are all masked
    (a fully padded document) attends to every key instead, so the output stays finite; such
    rows are padding and are masked out again downstream.

    Args:
        d_model: model width; must be divisible by ``n_heads``.
        n_heads: number of heads.
        dropout: dropout on the attention weights and on the output projection.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.n_heads = n_heads
        self.head_dim = d_model // n_heads
        self.dropout = dropout
        self.q_proj = nn.Linear(d_model, d_model)
        self.kv_proj = nn.Linear(d_model, 2 * d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        self.out_drop = nn.Dropout(dropout)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        B, S, _ = x.shape
        x = x.view(B, S, self.n_heads, self.head_dim)  # (B, S, H, hd)
        return x.transpose(1, 2)  # (B, H, S, hd)

    def forward(
        self,
        x: torch.Tensor,
        key_padding_mask: torch.Tensor,
        attn_mask: torch.Tensor | None = None,
        memory: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Attend from ``x`` to ``memory``.

        Args:
            x: (B, T, d) queries.
            key_padding_mask: (B, S) bool, True on real keys (S = T when ``memory`` is None).
            attn_mask: optional bool mask of allowed (query, key) pairs, broadcastable to
                (B, H, T, S), e.g. (T, S) for a banded local window.
            memory: optional (B, S, d) keys/values; defaults to ``x``.

        Returns:
            (B, T, d) attended states.
        """
        B, T, d = x.shape
        memory = x if memory is None else memory
        q = self._split_heads(self.q_proj(x))  # (B, H, T, hd)
        k, v = self.kv_proj(memory).split(d, dim=-1)  # 2 x (B, S, d)
        k, v = self._split_heads(k), self._split_heads(v)  # 2 x (B, H, S, hd)

        allowed = key_padding_mask[:, None, None, :]  # (B, 1, 1, S)
        if attn_mask is not None:
            allowed = allowed & attn_mask  # broadcast to (B, 1|H, T, S)
        # a query with no allowed key would give softmax(all -inf) = NaN: let it see all keys
        allowed = allowed | ~allowed.any(dim=-1, keepdim=True)

        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=allowed, dropout_p=self.dropout if self.training else 0.0
        )  # (B, H, T, hd)
        y = y.transpose(1, 2).reshape(B, T, d)  # (B, T, H * hd)
        return self.out_drop(self.out_proj(y))


class FeedForward(nn.Module):
    """Position-wise MLP: Linear(d, d_ff) - GELU - Linear(d_ff, d) - dropout."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.fc_in = nn.Linear(d_model, d_ff)
        self.fc_out = nn.Linear(d_ff, d_model)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc_out(F.gelu(self.fc_in(x))))


class TransformerBlock(nn.Module):
    """Pre-norm block: ``x + attn(ln(x))`` then ``x + mlp(ln(x))``.

    Subclasses may replace ``self.attn`` with any module that has the same
    ``forward(x, key_padding_mask, attn_mask=None)`` signature.
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.ln_attn = nn.LayerNorm(d_model)
        self.attn = MultiHeadSelfAttention(d_model, n_heads, dropout)
        self.ln_mlp = nn.LayerNorm(d_model)
        self.mlp = FeedForward(d_model, d_ff, dropout)

    def forward(
        self,
        x: torch.Tensor,
        key_padding_mask: torch.Tensor,
        attn_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(B, T, d) -> (B, T, d); ``key_padding_mask`` (B, T) bool, True on real tokens."""
        x = x + self.attn(self.ln_attn(x), key_padding_mask, attn_mask)
        x = x + self.mlp(self.ln_mlp(x))
        return x


def check_length(length: int, max_len: int) -> int:
    """Return ``length``, or raise if position embeddings stop short of it."""
    if length > max_len:
        raise ValueError(
            f"sequence length {length} exceeds max_len={max_len}; "
            "truncate the input (tokenizer.max_length) or raise the encoder's max_len"
        )
    return length
