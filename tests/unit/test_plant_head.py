"""PLANT head: inattention, padding invariance, equality with the LAAT head without planting,
the static stream against the L2R model, gradients, state-dict round trip, stability and
label chunking."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file

from labelwise.models.heads import LabelAttentionHead
from labelwise.models.heads.plant import PlantHead, inattention
from labelwise.plant.l2r import L2RModel
from labelwise.registry import HEADS
from labelwise.types import EncoderOutput

D, V, K, L = 8, 20, 6, 7


def make_enc(lengths: list[int], t: int = 9, seed: int = 0) -> EncoderOutput:
    """Random states (B, t, D), right-padded mask and ids in [1, V) (pads 0)."""
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(len(lengths), t, D, generator=g)
    mask = torch.arange(t)[None, :] < torch.tensor(lengths)[:, None]
    ids = torch.randint(1, V, (len(lengths), t), generator=g).masked_fill(~mask, 0)
    return EncoderOutput(token_states=h, mask=mask, pooled=h.mean(1), input_ids=ids)


def pad_more(enc: EncoderOutput, extra: int) -> EncoderOutput:
    """Same documents with ``extra`` more (random-state) pad positions at the end."""
    b, t, d = enc.token_states.shape
    h = torch.cat([enc.token_states, torch.randn(b, extra, d) * 100], dim=1)
    mask = torch.cat([enc.mask, torch.zeros(b, extra, dtype=torch.bool)], dim=1)
    assert enc.input_ids is not None
    ids = torch.cat([enc.input_ids, torch.full((b, extra), 3)], dim=1)
    return EncoderOutput(token_states=h, mask=mask, pooled=enc.pooled, input_ids=ids)


def make_l2r(scale: float = 1.0, seed: int = 0) -> L2RModel:
    l2r = L2RModel(V, L, K, init_scale=1.0, seed=seed)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        l2r.token_bias.copy_(torch.randn(V, generator=g))
        l2r.label_bias.copy_(torch.randn(L, generator=g))
        for p in l2r.parameters():
            p.mul_(scale)
    return l2r


def make_head(planted: bool = True, **params: Any) -> PlantHead:
    cfg: dict[str, Any] = {"attn_dim": 5, "vocab_size": V, "factor_dim": K, "dropout": 0.0,
                           "label_chunk_size": 3, "inattention_k": 3}
    cfg.update(params)
    torch.manual_seed(0)
    head = HEADS.create("plant", D, L, **cfg)
    assert isinstance(head, PlantHead)
    if planted:
        head.plant(make_l2r())
    return head.eval()


# ------------------------------------------------------------------------- inattention


@pytest.mark.parametrize("mode", ["margin", "zero"])
@pytest.mark.parametrize("k", [1, 3, 5, 9, 50, None])
def test_inattention_keeps_exactly_k_real_tokens(k: int | None, mode: str) -> None:
    lengths = [9, 5, 3, 1, 0]
    mask = torch.arange(9)[None, :] < torch.tensor(lengths)[:, None]
    scores = torch.randn(len(lengths), 4, 9)
    contrib, keep = inattention(scores, mask, k, mode)  # type: ignore[arg-type]
    for b, n in enumerate(lengths):
        expect = n if k is None else min(k, n)
        assert keep[b].sum(-1).tolist() == [expect] * 4
        assert not keep[b, :, n:].any()  # never a pad
    assert (contrib[~keep] == 0).all()  # no contribution outside the kept set
    if mode == "zero":  # continuous random scores: every kept token contributes
        assert ((contrib != 0) == keep).all()
    else:  # margin: kept tokens are the top ones and get score - weakest kept score >= 0
        assert (contrib >= 0).all()
        real = mask[:, None, :].expand_as(scores)
        dropped_best = scores.masked_fill(keep | ~real, -torch.inf).amax(-1)
        kept_worst = scores.masked_fill(~keep, torch.inf).amin(-1)
        assert (dropped_best <= kept_worst).all()


def test_inattention_margin_is_shift_invariant_and_keeps_ties_consistent() -> None:
    mask = torch.ones(1, 6, dtype=torch.bool)
    scores = torch.tensor([[[3.0, 1.0, 2.0, 2.0, 0.0, 5.0]]])
    contrib, keep = inattention(scores, mask, 3, "margin")
    assert keep.sum() == 3
    # 5 and 3 kept; one of the tied 2s kept with margin 0, the other dropped with 0
    torch.testing.assert_close(contrib[0, 0], torch.tensor([1.0, 0, 0, 0, 0, 3.0]))
    shifted, _ = inattention(scores + 7.5, mask, 3, "margin")
    torch.testing.assert_close(shifted, contrib)
    zero, keep = inattention(scores, mask, 3, "zero")  # ties: the earlier token is kept
    assert keep[0, 0].tolist() == [True, False, True, False, False, True]
    torch.testing.assert_close(zero[0, 0], torch.tensor([3.0, 0, 2, 0, 0, 5]))


def test_head_inattention_keeps_exactly_k_tokens_per_doc_and_label() -> None:
    lengths = [9, 5, 2, 0]
    for k in (1, 3, 4, 20):
        head = make_head(inattention_k=k)
        with torch.no_grad():
            parts = head.planted_contributions(make_enc(lengths))
        assert set(parts) == {"static", "diff"}
        for contrib, keep in parts.values():
            assert keep.shape == (4, L, 9)
            counts = keep.sum(-1)  # (B, L)
            for b, n in enumerate(lengths):
                assert (counts[b] == min(k, n)).all()
            assert (contrib[~keep] == 0).all()


def test_keep_all_equals_no_inattention() -> None:
    enc = make_enc([9, 6, 3, 1])
    none, big = make_head(inattention_k=None), make_head(inattention_k=9)
    with torch.no_grad():
        torch.testing.assert_close(big(enc).logits, none(enc).logits)


# ------------------------------------------------------------------------- invariances


@pytest.mark.parametrize("mode", ["margin", "zero"])
def test_padding_invariance(mode: str) -> None:
    head = make_head(inattention_mode=mode)
    enc = make_enc([9, 6, 3, 1, 0])
    with torch.no_grad():
        short, long = head(enc).logits, head(pad_more(enc, 5)).logits
    torch.testing.assert_close(long, short, atol=1e-5, rtol=0)
    assert torch.isfinite(short).all()


def test_without_planted_streams_equals_labelwise_attention() -> None:
    enc = make_enc([9, 6, 3, 1, 0])
    torch.manual_seed(3)
    laat = LabelAttentionHead(D, L, LabelAttentionHead.Config(attn_dim=5, dropout=0.0,
                                                              label_chunk_size=4)).eval()
    plain = make_head(planted=False, static_stream=False, diff_stream=False)
    missing, unexpected = plain.load_state_dict(laat.state_dict(), strict=False)
    assert missing == ["mix_learned"] and not unexpected
    no_ids = EncoderOutput(enc.token_states, enc.mask, enc.pooled)  # ids are not needed
    with torch.no_grad():
        torch.testing.assert_close(plain(no_ids).logits, laat(enc).logits, atol=1e-6, rtol=0)


def test_unplanted_head_equals_labelwise_attention() -> None:
    """Zero buffers (before planting): both planted streams contribute nothing."""
    enc = make_enc([9, 6, 3, 1, 0])
    laat = LabelAttentionHead(D, L, LabelAttentionHead.Config(attn_dim=5, dropout=0.0)).eval()
    for mode in ("margin", "zero"):
        head = make_head(planted=False, inattention_mode=mode)
        assert not head.is_planted
        head.load_state_dict(laat.state_dict(), strict=False)
        with torch.no_grad():
            torch.testing.assert_close(head(enc).logits, laat(enc).logits, atol=1e-6, rtol=0)


def test_planting_changes_the_logits() -> None:
    enc = make_enc([9, 6])
    unplanted, planted = make_head(planted=False), make_head()
    assert planted.is_planted
    with torch.no_grad():
        assert not torch.allclose(planted(enc).logits, unplanted(enc).logits)


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 100])
def test_label_chunks_give_the_same_logits(chunk: int) -> None:
    enc = make_enc([9, 6, 3, 1, 0])
    whole = make_head(label_chunk_size=None)
    chunked = make_head(label_chunk_size=chunk)
    with torch.no_grad():
        torch.testing.assert_close(chunked(enc).logits, whole(enc).logits, atol=1e-6, rtol=1e-6)


def test_checkpointed_chunks_give_the_same_gradients() -> None:
    enc = make_enc([9, 6, 3])
    grads = []
    for ckpt in (False, True):
        head = make_head(checkpoint_chunks=ckpt).train()
        head(enc).logits.pow(2).sum().backward()
        grads.append({n: p.grad for n, p in head.named_parameters()})
    for n, g in grads[0].items():
        torch.testing.assert_close(grads[1][n], g, msg=n)


# ------------------------------------------------------------------------- static stream


def test_static_stream_equals_the_l2r_scores() -> None:
    head = make_head()
    l2r = make_l2r()
    enc = make_enc([9, 4])
    with torch.no_grad():
        static = head.planted_scores(enc)["static"]  # (B, L, T)
        table = l2r.score_matrix(torch.arange(L))  # (L, V)
        assert enc.input_ids is not None
        for b in range(2):
            for t in range(int(enc.mask[b].sum())):
                v = int(enc.input_ids[b, t])
                direct = l2r.token_factors[v] @ l2r.label_factors.T + l2r.token_bias[v] \
                    + l2r.label_bias
                torch.testing.assert_close(static[b, :, t], direct)
                torch.testing.assert_close(static[b, :, t], table[:, v])


def test_static_stream_alone_attends_to_the_planted_top_tokens() -> None:
    """With only the static stream and a learned stream weight of 0, attention mass sits on
    the kept tokens (margin mode: the weakest kept one ties with the dropped ones)."""
    head = make_head(diff_stream=False, inattention_k=2, inattention_mode="zero",
                     return_attention=True)
    with torch.no_grad():
        head.mix_learned.zero_()
        head.planted_token_factors.mul_(100.0)
        head.planted_token_bias.add_(1000.0)  # all scores positive and large
    enc = make_enc([9, 7])
    with torch.no_grad():
        attn = head(enc).extras["attention"]
        keep = head.planted_contributions(enc)["static"][1]
    torch.testing.assert_close(attn.masked_fill(~keep, 0).sum(-1), torch.ones(2, L))


def test_missing_or_bad_ids_raise() -> None:
    head = make_head()
    enc = make_enc([9, 3])
    with pytest.raises(ValueError, match="input_ids"):
        head(EncoderOutput(enc.token_states, enc.mask, enc.pooled))
    assert enc.input_ids is not None
    bad = enc.input_ids.clone()
    bad[0, 0] = V
    with pytest.raises(ValueError, match="vocab_size"):
        head(EncoderOutput(enc.token_states, enc.mask, enc.pooled, bad))
    only_diff = make_head(static_stream=False)  # no token ids needed
    only_diff(EncoderOutput(enc.token_states, enc.mask, enc.pooled))


def test_load_planted_checks_shapes_and_pads_short_vocabularies() -> None:
    head = make_head(planted=False)
    with pytest.raises(ValueError, match="token_factors"):
        head.load_planted(torch.zeros(V + 1, K), torch.zeros(V + 1), torch.zeros(L, K),
                          torch.zeros(L))
    with pytest.raises(ValueError, match="label_factors"):
        head.load_planted(torch.zeros(V, K), torch.zeros(V), torch.zeros(L + 1, K),
                          torch.zeros(L))
    small = L2RModel(V - 5, L, K, seed=2)
    head.plant(small)
    torch.testing.assert_close(head.planted_token_factors[: V - 5], small.token_factors.detach())
    assert (head.planted_token_factors[V - 5:] == 0).all()


# ------------------------------------------------------------------------- training


def test_gradients_reach_mixing_weights_and_map_but_not_buffers() -> None:
    head = make_head().train()
    enc = make_enc([9, 6, 3, 1])
    logits = head(enc).logits
    (logits * torch.randn_like(logits)).sum().backward()
    for name in ("mix_learned", "mix_static", "mix_diff", "token_map.weight", "label_query"):
        grad = dict(head.named_parameters())[name].grad
        assert grad is not None and bool(grad.abs().sum() > 0), name
    buffers = dict(head.named_buffers())
    assert set(buffers) == {"planted_token_factors", "planted_token_bias",
                            "planted_label_factors", "planted_label_bias"}
    for name, buf in buffers.items():
        assert not buf.requires_grad and buf.grad is None, name
    assert "diff_label_factors" not in dict(head.named_parameters())


def test_trainable_label_factors_of_the_diff_stream() -> None:
    head = make_head(train_label_factors=True).train()
    assert head.diff_label_factors is not None
    torch.testing.assert_close(head.diff_label_factors.detach(), head.planted_label_factors)
    head(make_enc([9, 4])).logits.sum().backward()
    assert head.diff_label_factors.grad is not None
    assert bool(head.diff_label_factors.grad.abs().sum() > 0)


def test_switched_off_streams_have_no_parameters_or_buffers() -> None:
    head = make_head(planted=False, static_stream=False)
    names = set(dict(head.named_parameters())) | set(dict(head.named_buffers()))
    assert "mix_static" not in names and "planted_token_factors" not in names
    assert "mix_diff" in names and "planted_label_factors" in names
    none = make_head(planted=False, static_stream=False, diff_stream=False)
    assert not dict(none.named_buffers())
    none.plant(make_l2r())  # planting without planted streams is a no-op (no error)


def test_state_dict_round_trip_keeps_the_planted_tables() -> None:
    head = make_head()
    enc = make_enc([9, 5, 2])
    state = head.state_dict()
    assert "planted_token_factors" in state and "planted_label_bias" in state
    fresh = make_head(planted=False)
    with torch.no_grad():
        before = fresh(enc).logits
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "model.safetensors")
        save_file(state, path)
        missing, unexpected = fresh.load_state_dict(load_file(path))
    assert not missing and not unexpected and fresh.is_planted
    with torch.no_grad():
        after, want = fresh(enc).logits, head(enc).logits
    torch.testing.assert_close(after, want, atol=0, rtol=0)
    assert not torch.allclose(before, want)


def test_queries_from_l2r() -> None:
    for attn_dim in (K, 5):
        head = make_head(attn_dim=attn_dim, init_queries_from_l2r=True)
        q = make_l2r().label_factors.detach()
        u = head.label_query.detach()
        rms = u.pow(2).sum(1).mean().sqrt()
        torch.testing.assert_close(rms, torch.tensor(1.0))
        if attn_dim == K:  # identity projection: proportional to Q
            torch.testing.assert_close(u, q / q.pow(2).sum(1).mean().sqrt())
        again = make_head(attn_dim=attn_dim, init_queries_from_l2r=True)
        torch.testing.assert_close(again.label_query, head.label_query)  # fixed projection
    assert not torch.allclose(make_head().label_query,
                              make_head(init_queries_from_l2r=True).label_query)


# ------------------------------------------------------------------------- stability


@pytest.mark.parametrize("mode", ["margin", "zero"])
def test_no_nan_with_huge_planted_factors(mode: str) -> None:
    head = make_head(planted=False, inattention_mode=mode).train()
    head.plant(make_l2r(scale=1e4))
    enc = make_enc([9, 6, 1, 0])
    out = head(enc).logits
    assert torch.isfinite(out).all()
    out.sum().backward()
    for n, p in head.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), n


def test_contract_defaults_build() -> None:
    """The registry defaults (as the contract tests use them) cover a 50-token vocabulary."""
    head = HEADS.create("plant", 16, 5)
    assert head.config.vocab_size >= 50
    enc = EncoderOutput(torch.randn(2, 4, 16), torch.ones(2, 4, dtype=torch.bool),
                        torch.randn(2, 16), torch.randint(0, 50, (2, 4)))
    assert head(enc).logits.shape == (2, 5)
