"""PLANT head: label-wise attention whose scores are planted from a learning-to-rank model.

For label l, a document with token ids x_t, token states h_t (d) and n real tokens, three
attention streams score every token t::

    e_learned[l, t] = u_l . tanh(W h_t)                       learned, as in the LAAT head
    e_static[l, t]  = p_{x_t} . q_l + b_{x_t} + b_l            L2R score of the token id (fixed)
    e_diff[l, t]    = (M h_t) . q_l + b_l                      M: d -> k learned; q_l fixed
                                                               (or trainable: train_label_factors)

where ``p``, ``q``, ``b`` are the factors and biases of :class:`labelwise.plant.l2r.L2RModel`
(token factors P (V, k), label factors Q (L, k)), held in buffers.

Inattention (each planted stream separately, per document and label). ``keep[l, t]`` marks
exactly ``min(k, n)`` real tokens: those with the largest stream score (``k=None`` or
``k >= n``: every real token; of tied tokens the earlier ones are kept, so the choice does
not depend on the padding). Only kept tokens receive a
planted contribution ``g``; every other token (and every pad) gets ``g = 0``, i.e. that stream
adds nothing to its attention score:

- ``inattention_mode="margin"`` (default): ``g[l, t] = e[l, t] - m_l`` on kept tokens, where
  ``m_l`` is the smallest kept score (the ``min(k, n)``-th largest). Kept tokens get their
  margin over the weakest kept token (>= 0, the weakest one exactly 0) and planting can only
  raise its top-k tokens relative to the rest. ``g`` is a continuous function of the scores
  (``relu(e - m_l)``): it does not depend on which of the tokens tied at the cut is kept,
  nor on the per-label level of the scores (``b_l`` cancels), which LambdaRank leaves
  undetermined (it only orders a label's tokens).
- ``inattention_mode="zero"``: ``g[l, t] = e[l, t]`` on kept tokens, 0 elsewhere (the
  literal "zero the rest"). Beware: kept tokens with negative scores then get *less*
  attention than dropped ones.

Mixing, one softmax over the real tokens, and the LAAT output::

    s[l, t] = a_learned * e_learned + a_static * g_static + a_diff * g_diff
    a_l     = softmax_t(s[l, :])        pads masked with finfo.min, weights times the mask
    c_l     = sum_t a_lt h_t
    y_l     = w_l . c_l + b_out_l

``a_*`` are learnable scalars (initialised by ``mix_init``, default 1, 1, 1); a planted
stream switched off (``static_stream`` / ``diff_stream``) has neither mixing weight nor
buffers. With both off the head computes exactly the ``labelwise_attention`` head (same
parameter names: ``proj``, ``label_query``, ``label_weight``, ``label_bias``) times
``a_learned`` (1 at init).

Planting happens after construction (the vocabulary and the L2R model only exist once the
tokenizer and the MIG/L2R stages ran): :meth:`PlantHead.plant` or
:meth:`PlantHead.load_planted` copies the factors into persistent buffers, so they are saved
in the model's state dict (``model.safetensors``) and reloaded without rerunning L2R. Before
planting the buffers are zeros: both planted scores are then 0 for every token, their
contributions are 0 in either mode and the head behaves exactly as the plain LAAT head.

Query initialisation (``init_queries_from_l2r``, applied by ``plant``/``load_planted``):
``u = Q R`` with ``R`` the identity when ``attn_dim == factor_dim``, else a fixed Gaussian
random projection (k, attn_dim) drawn from ``query_projection_seed``; then every row is
divided by the root-mean-square row norm, so the queries have the scale of the default
initialisation (RMS norm 1) and keep the L2R geometry of the labels. An all-zero Q leaves
the queries unchanged.

Labels are processed in chunks of ``label_chunk_size``: per chunk of l labels the head holds
a few (B, l, T) tensors (about five times the LAAT head's), never (B, L, T) for all labels
unless ``return_attention`` asks for it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
from pydantic import PositiveInt
from torch import nn

from labelwise.models.heads.base import Head, PrepareData
from labelwise.models.heads.label_attention import (
    LabelAttentionHead,
    LabelParts,
    attend,
    run_label_chunks,
)
from labelwise.models.heads.planted import (
    InattentionMode,
    inattention,
    margin_inattention,
    margin_over_tokens,
    planted_token_ids,
)
from labelwise.registry import HEADS
from labelwise.types import EncoderOutput, ModelOutput

if TYPE_CHECKING:
    from labelwise.plant.l2r import L2RModel

__all__ = ["PlantHead", "inattention", "margin_inattention", "margin_over_tokens"]

@HEADS.register("plant")
class PlantHead(Head):
    """Label-wise attention with static and differentiable streams planted from an L2R model.

    Args:
        in_dim: width d of the encoder's token states.
        num_labels: number of labels L.
        config: see ``PlantHead.Config``; the planted tables are set later by
            :meth:`plant` / :meth:`load_planted`.
    """

    class Config(LabelAttentionHead.Config):
        """Options of the PLANT head: the label-wise attention head's, plus the planting."""

        vocab_size: PositiveInt = 30522  # rows of the token buffers; ids must be < this
        factor_dim: PositiveInt = 400  # k of the L2R model
        static_stream: bool = True
        diff_stream: bool = True
        inattention_k: PositiveInt | None = 10  # None: keep every token
        inattention_mode: InattentionMode = "margin"
        train_label_factors: bool = False  # q_l of the differentiable stream trainable
        mix_init: tuple[float, float, float] = (1.0, 1.0, 1.0)  # learned, static, diff
        init_queries_from_l2r: bool = False
        query_projection_seed: int = 0

    planted_token_factors: torch.Tensor
    planted_token_bias: torch.Tensor
    planted_label_factors: torch.Tensor
    planted_label_bias: torch.Tensor

    def __init__(
        self, in_dim: int, num_labels: int, config: PlantHead.Config | None = None
    ) -> None:
        super().__init__()
        self.config = config = config or PlantHead.Config()
        self.num_labels = num_labels
        self.return_attention = config.return_attention
        self.label_subset: torch.Tensor | None = None  # as in LabelAttentionHead
        a, k, v = config.attn_dim, config.factor_dim, config.vocab_size
        self.drop = nn.Dropout(config.dropout)
        self.proj = nn.Linear(in_dim, a, bias=False)  # W
        self.label_query = nn.Parameter(torch.empty(num_labels, a))  # u_l
        self.label_weight = nn.Parameter(torch.empty(num_labels, in_dim))  # w_l
        self.label_bias = nn.Parameter(torch.zeros(num_labels))  # b_out_l
        nn.init.normal_(self.label_query, std=1.0 / math.sqrt(a))
        nn.init.normal_(self.label_weight, std=1.0 / math.sqrt(in_dim))
        self.mix_learned = nn.Parameter(torch.tensor(float(config.mix_init[0])))

        if config.static_stream:
            self.register_buffer("planted_token_factors", torch.zeros(v, k))  # P
            self.register_buffer("planted_token_bias", torch.zeros(v))  # b_v
            self.mix_static = nn.Parameter(torch.tensor(float(config.mix_init[1])))
        if config.static_stream or config.diff_stream:
            self.register_buffer("planted_label_factors", torch.zeros(num_labels, k))  # Q
            self.register_buffer("planted_label_bias", torch.zeros(num_labels))  # b_l (L2R)
        self.diff_label_factors: nn.Parameter | None = None
        if config.diff_stream:
            self.token_map = nn.Linear(in_dim, k, bias=False)  # M
            self.mix_diff = nn.Parameter(torch.tensor(float(config.mix_init[2])))
            if config.train_label_factors:
                self.diff_label_factors = nn.Parameter(torch.zeros(num_labels, k))

    # ------------------------------------------------------------------------ planting

    @classmethod
    def complete_spec(cls, spec: dict[str, Any], vocab_size: int) -> dict[str, Any]:
        """``vocab_size`` is the tokenizer's unless the config gives one (config.yaml keeps
        the config's fields; loading fills in the same value from the run's tokenizer, so
        the rebuilt model matches the saved weights)."""
        spec = dict(spec)
        given = spec.get("vocab_size")
        if given is None:
            spec["vocab_size"] = vocab_size
        elif isinstance(given, int) and given < vocab_size:
            raise ValueError(
                f"model.head.vocab_size ({given}) is smaller than the tokenizer's "
                f"vocabulary ({vocab_size}): leave it unset (it follows the tokenizer) or "
                "raise it"
            )
        return spec

    def prepare(self, data: PrepareData) -> dict[str, Any]:
        """PLANT's stage before training (:mod:`labelwise.plant.pipeline`): MIG and L2R on
        the training set, planted into the buffers; nothing when no stream is planted and
        the queries do not start from L2R.

        Resuming a run whose stage completed (``<run>/plant/stage.json``) does not redo it:
        the head is planted again from the saved ``<run>/plant/l2r`` (exactly the buffers
        of the first planting), then the trainer's checkpoint, when there is one, restores
        everything as it was. Returns ``stage.json``'s content (``reused``: it was reloaded).
        """
        from labelwise.config import PlantConfig
        from labelwise.plant import pipeline

        if not (self.has_planted_streams or self.config.init_queries_from_l2r):
            return {}
        if data.resume and pipeline.stage_done(data.run_dir):
            assert data.run_dir is not None
            return {**pipeline.replant(self, data.run_dir), "reused": True}
        settings = data.settings or PlantConfig(factor_dim=self.config.factor_dim)
        return pipeline.plant_stage(
            self, data.tokenizer, data.token_docs(), data.targets, settings,
            data.run_dir if data.write else None, seed=data.seed, progress=data.progress,
            device=data.device,
        )

    @property
    def has_planted_streams(self) -> bool:
        return self.config.static_stream or self.config.diff_stream

    @property
    def is_planted(self) -> bool:
        """True once non-zero label factors were loaded (False before planting)."""
        return self.has_planted_streams and bool(self.planted_label_factors.abs().sum() > 0)

    def plant(self, l2r: L2RModel) -> None:
        """Copy the factors and biases of a trained ``L2RModel`` into the buffers (detached)."""
        self.load_planted(l2r.token_factors, l2r.token_bias, l2r.label_factors, l2r.label_bias)

    @torch.no_grad()
    def load_planted(
        self,
        token_factors: torch.Tensor,
        token_bias: torch.Tensor,
        label_factors: torch.Tensor,
        label_bias: torch.Tensor,
    ) -> None:
        """Copy L2R tables into the buffers.

        Args:
            token_factors: (V', k) with V' <= ``vocab_size`` (rows V'.. stay 0: such tokens
                score ``b_l`` only); token_bias: (V',).
            label_factors: (L, k); label_bias: (L,).

        Also copies ``label_factors`` into the trainable q of the differentiable stream
        (``train_label_factors``) and initialises the queries (``init_queries_from_l2r``).
        """
        cfg = self.config
        v, k = token_factors.shape if token_factors.dim() == 2 else (-1, -1)
        if k != cfg.factor_dim or not 0 < v <= cfg.vocab_size:
            raise ValueError(
                f"token_factors must be (V, {cfg.factor_dim}) with V <= vocab_size "
                f"{cfg.vocab_size}, got {tuple(token_factors.shape)}"
            )
        if tuple(token_bias.shape) != (v,):
            raise ValueError(f"token_bias must be ({v},), got {tuple(token_bias.shape)}")
        if tuple(label_factors.shape) != (self.num_labels, cfg.factor_dim):
            raise ValueError(
                f"label_factors must be ({self.num_labels}, {cfg.factor_dim}), "
                f"got {tuple(label_factors.shape)}"
            )
        if tuple(label_bias.shape) != (self.num_labels,):
            raise ValueError(
                f"label_bias must be ({self.num_labels},), got {tuple(label_bias.shape)}"
            )
        if cfg.static_stream:
            self.planted_token_factors.zero_()[:v].copy_(token_factors.detach())
            self.planted_token_bias.zero_()[:v].copy_(token_bias.detach())
        if self.has_planted_streams:
            self.planted_label_factors.copy_(label_factors.detach())
            self.planted_label_bias.copy_(label_bias.detach())
        if self.diff_label_factors is not None:
            self.diff_label_factors.copy_(label_factors.detach())
        if cfg.init_queries_from_l2r:
            self._init_queries(label_factors.detach())

    def _init_queries(self, label_factors: torch.Tensor) -> None:
        """``u = Q R`` rescaled to RMS row norm 1 (see the module docstring)."""
        q = label_factors.to(self.label_query)
        a, k = self.config.attn_dim, self.config.factor_dim
        if a == k:
            u = q.clone()
        else:
            gen = torch.Generator().manual_seed(self.config.query_projection_seed)
            r = torch.randn(k, a, generator=gen) / math.sqrt(a)
            u = q @ r.to(q)
        rms = u.pow(2).sum(dim=1).mean().sqrt()
        if float(rms) > 0:
            self.label_query.copy_(u / rms)

    # ------------------------------------------------------------------------ forward

    def _token_tables(
        self, h: torch.Tensor, enc: EncoderOutput, mask: torch.Tensor
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        """Per-token inputs of the planted streams: P[x] (B, T, k), b_v[x] (B, T) and
        M h (B, T, k); None for a stream that is off."""
        ptok = pbias = mtok = None
        if self.config.static_stream:
            ids = planted_token_ids(enc.input_ids, mask, self.config.vocab_size)
            ptok = self.planted_token_factors[ids]  # (B, T, k)
            pbias = self.planted_token_bias[ids]  # (B, T)
        if self.config.diff_stream:
            mtok = self.token_map(h)  # (B, T, k)
        return ptok, pbias, mtok

    def _raw_scores(
        self,
        part: slice | torch.Tensor,
        ptok: torch.Tensor | None,
        pbias: torch.Tensor | None,
        mtok: torch.Tensor | None,
    ) -> dict[str, torch.Tensor]:
        """Planted stream scores (B, l, T) before inattention for the labels in ``part``."""
        out: dict[str, torch.Tensor] = {}
        if not self.has_planted_streams:
            return out
        bl = self.planted_label_bias[part][None, :, None]  # (1, l, 1)
        if ptok is not None and pbias is not None:
            q = self.planted_label_factors[part]  # (l, k)
            out["static"] = torch.einsum("btk,lk->blt", ptok, q) + pbias[:, None, :] + bl
        if mtok is not None:
            qd = self.diff_label_factors if self.diff_label_factors is not None else (
                self.planted_label_factors
            )
            out["diff"] = torch.einsum("btk,lk->blt", mtok, qd[part]) + bl
        return out

    def _chunk(
        self,
        part: slice | torch.Tensor,
        z: torch.Tensor,
        h: torch.Tensor,
        mask: torch.Tensor,
        ptok: torch.Tensor | None,
        pbias: torch.Tensor | None,
        mtok: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (B, l) and attention (B, l, T) of the labels ``part`` selects.

        Computed token-major, (B, T, l): each matrix product then writes its output in the
        layout every later step reads, so nothing is copied (the label-major (B, l, T)
        products of ``_raw_scores`` are transposed views that each later step copied).
        In margin mode the label bias ``b_l`` is left out of the planted scores: adding a
        constant per (document, label) moves every score and the cut alike.
        """
        k, mode = self.config.inattention_k, self.config.inattention_mode
        real_or_none = None if bool(mask.all()) else mask[:, :, None]  # (B, T, 1)
        u = self.label_query[part] * self.mix_learned  # (l, a): the scalar on l*a, not B*T*l
        scores = torch.matmul(z, u.t())  # (B, T, l)
        streams: list[tuple[torch.Tensor, torch.Tensor]] = []
        if ptok is not None and pbias is not None:
            q = self.planted_label_factors[part]  # (l, k)
            e = torch.matmul(ptok, q.t()) + pbias[:, :, None]  # (B, T, l)
            streams.append((e, self.mix_static))
        if mtok is not None:
            qd = self.diff_label_factors if self.diff_label_factors is not None else (
                self.planted_label_factors
            )
            streams.append((torch.matmul(mtok, qd[part].t()), self.mix_diff))
        for e, mix in streams:
            if mode == "margin":
                g = margin_over_tokens(e, real_or_none, k)
            else:  # "zero" needs the label bias and the sorted reference
                e = e + self.planted_label_bias[part][None, None, :]
                g = inattention(e.transpose(1, 2), mask, k, mode)[0].transpose(1, 2)
            scores = scores.addcmul_(g, mix)  # in place: no backward needs the old scores
        return attend(scores, h, mask, self.label_weight[part], self.label_bias[part])

    def planted_contributions(
        self, enc: EncoderOutput, start: int = 0, stop: int | None = None
    ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """For inspection: ``{"static"|"diff": (contribution (B, l, T), keep (B, l, T))}``
        of labels ``start:stop`` after inattention, before the mixing weights (dropout
        applies as in the current train/eval mode; use eval mode to match ``forward``)."""
        mask = enc.mask.bool()
        raw = self.planted_scores(enc, start, stop)
        k, mode = self.config.inattention_k, self.config.inattention_mode
        return {name: inattention(s, mask, k, mode) for name, s in raw.items()}

    def planted_scores(
        self, enc: EncoderOutput, start: int = 0, stop: int | None = None
    ) -> dict[str, torch.Tensor]:
        """Raw planted stream scores ``{"static"|"diff": (B, l, T)}`` of labels
        ``start:stop`` (before inattention and mixing)."""
        mask = enc.mask.bool()
        h = self.drop(enc.token_states)
        ptok, pbias, mtok = self._token_tables(h, enc, mask)
        return self._raw_scores(slice(start, stop), ptok, pbias, mtok)

    def forward(self, enc: EncoderOutput) -> ModelOutput:
        """Logits (B, L) from ``enc.token_states`` (B, T, d), ``enc.mask`` (B, T) and, for
        the static stream, ``enc.input_ids`` (B, T); (B, l) for the labels of
        ``label_subset`` when it is set."""
        h = self.drop(enc.token_states)  # (B, T, d)
        z = torch.tanh(self.proj(h))  # (B, T, a)
        mask = enc.mask.bool()
        ptok, pbias, mtok = self._token_tables(h, enc, mask)
        parts = LabelParts(self.num_labels, self.label_subset)
        step = self.config.label_chunk_size or parts.count
        use_ckpt = self.config.checkpoint_chunks and torch.is_grad_enabled()

        def chunk(start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
            return self._chunk(parts.select(start, stop), z, h, mask, ptok, pbias, mtok)

        return run_label_chunks(chunk, parts.count, step, use_ckpt, self.return_attention)
