"""Unit tests for the multi-level (global + local, gated) encoder and its lightweight parts."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from labelwise.models.encoders import (
    MultiHeadSelfAttention,
    MultiLevelEncoder,
    MultiLevelMiniLMEncoder,
    minilm_dir,
)
from labelwise.models.encoders.lightweight import (
    LocalSelfAttention,
    LowRankLinear,
    SequenceCompressor,
    band_mask,
)
from labelwise.registry import ENCODERS

VOCAB, PAD = 40, 0
TINY: dict[str, Any] = {"d_model": 16, "n_heads": 2, "n_layers": 2, "max_len": 32, "window": 2}


def make_encoder(**overrides: Any) -> MultiLevelEncoder:
    torch.manual_seed(0)
    enc = ENCODERS.create("multilevel", VOCAB, PAD, **{**TINY, **overrides})
    assert isinstance(enc, MultiLevelEncoder)
    return enc.eval()


def make_batch(lengths: list[int], t: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ids (B, t) and bool mask (B, t) with the given real lengths."""
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1, VOCAB, (len(lengths), t), generator=g)  # (B, t)
    mask = torch.arange(t)[None, :] < torch.tensor(lengths)[:, None]  # (B, t)
    return ids.masked_fill(~mask, PAD), mask


# ----------------------------------------------------------------------------------------
# the local branch is exact


@pytest.mark.parametrize("window", [1, 2, 5, 30])
def test_blocked_local_attention_equals_dense_banded_reference(window: int) -> None:
    torch.manual_seed(0)
    local = LocalSelfAttention(16, 2, window).eval()
    dense = MultiHeadSelfAttention(16, 2).eval()
    dense.load_state_dict(local.state_dict())
    for T in (1, 7, 24):
        x = torch.randn(3, T, 16)  # (B, T, d)
        lengths = [T, max(T - 4, 1), 1]
        mask = torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]  # (B, T)
        got = local(x, mask)
        want = dense(x, mask, attn_mask=band_mask(T, window))
        for i, n in enumerate(lengths):  # pad rows are junk (finite) in both
            torch.testing.assert_close(got[i, :n], want[i, :n], atol=1e-5, rtol=0)
        assert torch.isfinite(got).all()


def test_local_attention_gradient_stays_inside_the_band() -> None:
    torch.manual_seed(0)
    w, T = 3, 20
    local = LocalSelfAttention(16, 2, w).eval()
    x = torch.randn(1, T, 16, requires_grad=True)
    mask = torch.ones(1, T, dtype=torch.bool)
    for i in (0, 4, 11, 19):
        (grad,) = torch.autograd.grad(local(x, mask)[0, i].sum(), x)  # (1, T, d)
        reach = grad[0].abs().sum(-1) > 0  # (T,)
        assert torch.equal(reach, band_mask(T, w)[i]), i


@pytest.mark.parametrize("branches", ["local", "both"])
def test_token_outside_the_receptive_field_changes_nothing(branches: str) -> None:
    enc = make_encoder(branches=branches, n_layers=1, window=2)
    if branches == "both":  # force the gate to 0: only the local branch is left
        for layer in enc.layers():
            assert layer.gate is not None
            torch.nn.init.zeros_(layer.gate.weight)
            torch.nn.init.constant_(layer.gate.bias, -60.0)
    ids, mask = make_batch([16], 16)
    other = ids.clone()
    other[0, 10] = (ids[0, 10] % (VOCAB - 1)) + 1  # another real token at position 10
    with torch.no_grad():
        a, b = enc(ids, mask).token_states, enc(other, mask).token_states
    changed = (a - b).abs().amax(-1)[0] > 1e-6  # (T,)
    assert changed[8:13].all() and not changed[:8].any() and not changed[13:].any()


# ----------------------------------------------------------------------------------------
# gate, padding invariance, lightweight module


def test_gate_is_strictly_between_zero_and_one() -> None:
    enc = make_encoder()
    enc.keep_gates()
    ids, mask = make_batch([12, 5], 12)
    with torch.no_grad():
        enc(ids, mask)
    gates = enc.gates()
    assert len(gates) == TINY["n_layers"]
    for g in gates:
        assert g.shape == (2, 12, 16)
        assert (g > 0).all() and (g < 1).all()
    enc.keep_gates(False)
    assert enc.gates() == []


@pytest.mark.parametrize("mode", ["strided", "learned"])
@pytest.mark.parametrize("compress", [1, 2, 3])
def test_padding_invariance(compress: int, mode: str) -> None:
    enc = make_encoder(compress=compress, compress_mode=mode)
    with torch.no_grad():  # learned pooling that is not a plain average
        for layer in enc.layers():
            if layer.compressor is not None and layer.compressor.conv is not None:
                layer.compressor.conv.weight.normal_()
    lengths = [13, 7, 4, 1]
    ids, mask = make_batch(lengths, 13)
    ids_long, mask_long = make_batch(lengths, 20)
    ids_long[:, :13] = ids  # same real tokens, seven more pads
    with torch.no_grad():
        short, long = enc(ids, mask), enc(ids_long, mask_long)
    torch.testing.assert_close(long.pooled, short.pooled, atol=1e-5, rtol=0)
    for i, n in enumerate(lengths):
        torch.testing.assert_close(
            long.token_states[i, :n], short.token_states[i, :n], atol=1e-5, rtol=0
        )


def test_slot_compression_is_padding_invariant() -> None:
    enc = make_encoder(compress_slots=3)
    lengths = [13, 7, 2, 1]
    ids, mask = make_batch(lengths, 13)
    ids_long, mask_long = make_batch(lengths, 20)
    ids_long[:, :13] = ids
    with torch.no_grad():
        short, long = enc(ids, mask), enc(ids_long, mask_long)
    torch.testing.assert_close(long.pooled, short.pooled, atol=1e-5, rtol=0)


def test_slot_compression_averages_equal_segments_of_real_tokens() -> None:
    x = torch.arange(1.0, 9.0).view(1, 8, 1)  # values 1..8, six real tokens
    mask = torch.tensor([[True] * 6 + [False] * 2])
    pooled, pooled_mask = SequenceCompressor(1, 1, "strided", slots=3)(x, mask)
    assert pooled_mask.tolist() == [[True, True, True]]
    assert pooled[0, :, 0].tolist() == [1.5, 3.5, 5.5]
    short = torch.tensor([[True, True, False, False, False, False, False, False]])
    pooled, pooled_mask = SequenceCompressor(1, 1, "strided", slots=3)(x, short)
    assert pooled_mask.tolist() == [[True, True, False]]  # token i -> slot i*3//2
    assert pooled[0, :2, 0].tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match="compress=1"):
        SequenceCompressor(1, 2, "strided", slots=3)
    with pytest.raises(ValueError, match="compress_slots"):
        MultiLevelEncoder.Config(compress=2, compress_slots=4)


def test_strided_compression_averages_real_tokens_only() -> None:
    x = torch.arange(1.0, 8.0).view(1, 7, 1)  # (B, T, d) = values 1..7
    mask = torch.tensor([[True, True, True, True, True, False, False]])
    pooled, pooled_mask = SequenceCompressor(1, 3, "strided")(x, mask)
    assert pooled_mask.tolist() == [[True, True, False]]
    assert pooled[0, :2, 0].tolist() == [2.0, 4.5]  # (1+2+3)/3, (4+5)/2


def test_learned_compression_starts_as_an_average() -> None:
    torch.manual_seed(0)
    x, mask = torch.randn(2, 8, 4), torch.ones(2, 8, dtype=torch.bool)
    strided = SequenceCompressor(4, 2, "strided")(x, mask)[0]
    learned = SequenceCompressor(4, 2, "learned")(x, mask)[0]
    torch.testing.assert_close(learned, strided)


def test_ffn_rank_reduces_parameters_and_rejects_useless_ranks() -> None:
    def count(enc: MultiLevelEncoder) -> int:
        return sum(p.numel() for p in enc.parameters())

    assert count(make_encoder(ffn_rank=4)) < count(make_encoder())
    with pytest.raises(ValueError, match="ffn_rank=16 saves no weights"):
        make_encoder(ffn_rank=16)


def test_low_rank_linear_at_full_rank_reproduces_the_weight() -> None:
    torch.manual_seed(0)
    full = torch.nn.Linear(4, 6)
    low = LowRankLinear(4, 6, 4)
    low.copy_truncated_svd(full.weight, full.bias)
    x = torch.randn(3, 4)
    torch.testing.assert_close(low(x), full(x), atol=1e-5, rtol=0)


def test_compressed_and_plain_paths_agree_in_shape() -> None:
    ids, mask = make_batch([11, 6], 11)
    shapes = set()
    for params in ({"compress": 1}, {"compress": 2}, {"compress": 3, "ffn_rank": 2}):
        with torch.no_grad():
            out = make_encoder(**params)(ids, mask)
        shapes.add((out.token_states.shape, out.pooled.shape))
    assert shapes == {((2, 11, 16), (2, 16))}


def test_config_errors_say_what_to_use() -> None:
    with pytest.raises(ValueError, match="multilevel_minilm"):
        ENCODERS.create("multilevel", VOCAB, PAD, init_from_minilm=True)
    with pytest.raises(ValueError, match="n_heads=6"):
        ENCODERS.create("multilevel_minilm", VOCAB, PAD, n_heads=6)
    with pytest.raises(ValueError, match="n_layers"):  # MiniLM has six layers to copy
        ENCODERS.create("multilevel_minilm", VOCAB, PAD, n_layers=7)
    with pytest.raises(ValueError, match="unknown key 'windw'"):
        ENCODERS.create("multilevel", VOCAB, PAD, windw=3)


# ----------------------------------------------------------------------------------------
# initialised from MiniLM


@pytest.fixture(scope="module")
def minilm_pair() -> tuple[MultiLevelMiniLMEncoder, Any]:
    from transformers import AutoModel

    enc = ENCODERS.create("multilevel_minilm", VOCAB, PAD, window=2)
    bert = AutoModel.from_pretrained(
        str(minilm_dir()), local_files_only=True, add_pooling_layer=False
    )
    return enc.eval(), bert.float().eval()


def test_minilm_global_branch_holds_minilm_weights(minilm_pair: tuple[Any, Any]) -> None:
    enc, bert = minilm_pair
    assert enc.tokenizer == "minilm" and enc.out_dim == 384 and len(enc.layers()) == 6
    for layer, hf in zip(enc.layers(), bert.encoder.layer, strict=True):
        sa, g = hf.attention.self, layer.global_attn
        assert torch.equal(g.q_proj.weight, sa.query.weight)
        assert torch.equal(g.kv_proj.weight, torch.cat([sa.key.weight, sa.value.weight]))
        assert torch.equal(g.out_proj.bias, hf.attention.output.dense.bias)
        assert torch.equal(layer.mlp.fc_in.weight, hf.intermediate.dense.weight)
        assert torch.equal(layer.ln_mlp.weight, hf.output.LayerNorm.weight)
    assert torch.equal(enc.tok_embed.weight, bert.embeddings.word_embeddings.weight)


def test_minilm_gate_starts_near_one_and_at_one_is_minilm(minilm_pair: tuple[Any, Any]) -> None:
    enc, bert = minilm_pair
    ids, mask = make_batch([6, 4], 6)
    enc.keep_gates()
    with torch.no_grad():
        enc(ids, mask)
        assert all((g > 0.95).all() for g in enc.gates())
        biases = [layer.gate.bias.clone() for layer in enc.layers()]
        for layer in enc.layers():
            layer.gate.bias.fill_(60.0)  # g == 1: the pretrained path alone
        ours = enc(ids, mask).token_states
        for layer, b in zip(enc.layers(), biases, strict=True):
            layer.gate.bias.copy_(b)
        theirs = bert(input_ids=ids, attention_mask=mask.long()).last_hidden_state
    enc.keep_gates(False)
    torch.testing.assert_close(ours[mask], theirs[mask], atol=1e-4, rtol=0)
