"""Unit tests for labelwise.models: label attention, pooling, attention masks, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from labelwise.models import Classifier, build_model, encoder_tokenizer_kind
from labelwise.models.encoders import (
    MultiHeadSelfAttention,
    PretrainedEncoder,
    masked_max,
    masked_mean,
    minilm_dir,
)
from labelwise.models.heads import LabelAttentionHead
from labelwise.registry import ENCODERS
from labelwise.types import EncoderOutput

TINY_TRANSFORMER = {"name": "transformer", "d_model": 16, "n_heads": 2, "n_layers": 1}


def make_enc_output(lengths: list[int], t: int = 6, d: int = 8) -> EncoderOutput:
    torch.manual_seed(0)
    h = torch.randn(len(lengths), t, d)  # (B, T, d)
    mask = torch.arange(t)[None, :] < torch.tensor(lengths)[:, None]  # (B, T)
    return EncoderOutput(token_states=h, mask=mask, pooled=h.mean(1))


def make_label_head(num_labels: int, chunk: int | None, **extra: object) -> LabelAttentionHead:
    cfg = LabelAttentionHead.Config(attn_dim=5, label_chunk_size=chunk, dropout=0.0, **extra)
    return LabelAttentionHead(8, num_labels, cfg)


# ----------------------------------------------------------------------------------------
# label-wise attention


@pytest.mark.parametrize("chunk", [1, 3, 4, 10, 64])
def test_label_attention_chunked_equals_unchunked(chunk: int) -> None:
    enc = make_enc_output([6, 4, 1, 0])
    full = make_label_head(10, None)
    chunked = make_label_head(10, chunk)
    chunked.load_state_dict(full.state_dict())
    torch.testing.assert_close(chunked(enc).logits, full(enc).logits, atol=1e-6, rtol=1e-6)


def test_label_attention_scales_to_thousands_of_labels() -> None:
    enc = make_enc_output([6, 3])
    head = make_label_head(4100, 512).eval()
    with torch.no_grad():
        logits = head(enc).logits
    assert logits.shape == (2, 4100) and torch.isfinite(logits).all()


def test_label_attention_checkpointed_chunks_give_same_gradients() -> None:
    enc = make_enc_output([6, 4, 2])
    plain = make_label_head(7, 3)
    ckpt = make_label_head(7, 3, checkpoint_chunks=True)
    ckpt.load_state_dict(plain.state_dict())
    for head in (plain, ckpt):
        head(enc).logits.square().sum().backward()
    for (n, p), q in zip(plain.named_parameters(), ckpt.parameters(), strict=True):
        torch.testing.assert_close(q.grad, p.grad, msg=n)


def test_label_attention_weights_sum_to_one_on_real_tokens_and_zero_on_pads() -> None:
    lengths = [6, 4, 1, 0]
    enc = make_enc_output(lengths)
    head = make_label_head(9, 4, return_attention=True).eval()
    out = head(enc)
    attn = out.extras["attention"]  # (B, L, T)
    assert attn.shape == (4, 9, 6)
    assert torch.isfinite(attn).all() and torch.isfinite(out.logits).all()
    pads = ~enc.mask[:, None, :].expand_as(attn)
    assert (attn[pads] == 0).all()
    sums = attn.sum(-1)  # (B, L)
    torch.testing.assert_close(sums[:3], torch.ones(3, 9))
    assert (sums[3] == 0).all()  # a document with no tokens attends to nothing
    torch.testing.assert_close(out.logits[3], head.label_bias.detach())


def test_label_attention_matches_the_formula() -> None:
    enc = make_enc_output([5, 3])
    head = make_label_head(3, 2).eval()
    with torch.no_grad():
        z = torch.tanh(enc.token_states @ head.proj.weight.T)  # (B, T, a)
        expected = torch.empty(2, 3)
        for b, n in enumerate([5, 3]):
            for lab in range(3):
                a = torch.softmax(z[b, :n] @ head.label_query[lab], dim=0)  # (n,)
                c = a @ enc.token_states[b, :n]  # (d,)
                expected[b, lab] = c @ head.label_weight[lab] + head.label_bias[lab]
        torch.testing.assert_close(head(enc).logits, expected)


def test_label_attention_not_returned_by_default() -> None:
    assert "attention" not in make_label_head(3, 2)(make_enc_output([4])).extras


# ----------------------------------------------------------------------------------------
# shared blocks


def test_masked_pooling_hand_worked() -> None:
    x = torch.tensor([[[1.0, -2.0], [3.0, -4.0], [100.0, 100.0]]])  # (1, 3, 2)
    mask = torch.tensor([[True, True, False]])
    torch.testing.assert_close(masked_mean(x, mask), torch.tensor([[2.0, -3.0]]))
    torch.testing.assert_close(masked_max(x, mask), torch.tensor([[3.0, -2.0]]))
    empty = torch.zeros(1, 3, dtype=torch.bool)
    assert (masked_mean(x, empty) == 0).all() and (masked_max(x, empty) == 0).all()


def test_attention_respects_a_banded_window() -> None:
    torch.manual_seed(0)
    attn = MultiHeadSelfAttention(8, 2).eval()
    x = torch.randn(1, 6, 8)
    keys = torch.ones(1, 6, dtype=torch.bool)
    pos = torch.arange(6)
    window = (pos[:, None] - pos[None, :]).abs() <= 1  # (T, T): one neighbour each side
    y = attn(x, keys, attn_mask=window)
    x2 = x.clone()
    x2[0, 5] += 10.0  # outside the window of positions 0..3
    y2 = attn(x2, keys, attn_mask=window)
    torch.testing.assert_close(y2[0, :4], y[0, :4])
    assert not torch.allclose(y2[0, 4], y[0, 4])


def test_transformer_rejects_too_long_input() -> None:
    model = build_model({**TINY_TRANSFORMER, "max_len": 8}, {"name": "linear"}, 20, 0, 2)
    with pytest.raises(ValueError, match="max_len"):
        model(torch.ones(1, 9, dtype=torch.long), torch.ones(1, 9, dtype=torch.bool))


# ----------------------------------------------------------------------------------------
# pretrained


def test_minilm_dir_holds_model_and_tokenizer() -> None:
    d = minilm_dir()
    assert (d / "config.json").is_file() and (d / "tokenizer.json").is_file()


def test_frozen_pretrained_has_no_trainable_encoder_params() -> None:
    model = build_model({"name": "pretrained", "freeze": True}, {"name": "linear"}, 1, 0, 3)
    assert isinstance(model.encoder, PretrainedEncoder) and model.encoder.out_dim == 384
    assert not any(p.requires_grad for p in model.encoder.parameters())
    model.train()
    assert not model.encoder.model.training  # dropout stays off
    assert model.head.training
    ids = torch.tensor([[101, 2023, 2003, 102, 0]])
    mask = ids != 0
    out = model(ids, mask)
    assert not out.pooled.requires_grad
    out.logits.sum().backward()
    assert all(p.grad is None for p in model.encoder.parameters())
    assert all(p.grad is not None for p in model.head.parameters())


def test_fine_tuned_pretrained_follows_train_and_eval() -> None:
    model = build_model({"name": "pretrained"}, {"name": "linear"}, 1, 0, 3)
    assert model.encoder.model.training  # a new module starts in train mode
    assert all(p.requires_grad for p in model.encoder.parameters())
    model.eval()
    assert not model.encoder.model.training


def test_pretrained_keeps_its_first_layers() -> None:
    """``layers: 2`` keeps MiniLM's first two layers with their pretrained weights: the
    hidden states equal those the full model computes after its second layer."""
    full = build_model({"name": "pretrained"}, {"name": "linear"}, 1, 0, 3).eval()
    short = build_model({"name": "pretrained", "layers": 2}, {"name": "linear"}, 1, 0, 3).eval()
    assert len(short.encoder.model.encoder.layer) == 2 and short.encoder.model.config.num_hidden_layers == 2
    ids = torch.tensor([[101, 2023, 2003, 1037, 3231, 102]])
    with torch.no_grad():
        want = full.encoder.model(input_ids=ids, output_hidden_states=True).hidden_states[2]
        got = short.encoder(ids, torch.ones_like(ids, dtype=torch.bool)).token_states
    torch.testing.assert_close(got, want)
    with pytest.raises(ValueError, match="layers"):
        build_model({"name": "pretrained", "layers": 7}, {"name": "linear"}, 1, 0, 3)


def test_freeze_layers_trains_only_the_upper_layers() -> None:
    """``freeze_layers: 4``: the embeddings and layers 0-3 get no gradient, layers 4-5 and
    the head do, and the backward pass stops above the frozen layers."""
    model = build_model({"name": "pretrained", "freeze_layers": 4}, {"name": "linear"}, 1, 0, 3)
    enc = model.encoder.model
    ids = torch.tensor([[101, 2023, 2003, 1037, 3231, 102]])
    model(ids, torch.ones_like(ids, dtype=torch.bool)).logits.sum().backward()
    frozen = [*enc.embeddings.parameters(), *(p for layer in enc.encoder.layer[:4] for p in layer.parameters())]
    trained = [p for layer in enc.encoder.layer[4:] for p in layer.parameters()]
    assert all(not p.requires_grad and p.grad is None for p in frozen)
    assert all(p.requires_grad and p.grad is not None for p in trained)
    assert not model.encoder.frozen  # the upper layers still train: nothing may be cached
    with pytest.raises(ValueError, match="freeze_layers"):
        build_model({"name": "pretrained", "freeze_layers": 7}, {"name": "linear"}, 1, 0, 3)


# ----------------------------------------------------------------------------------------
# factory and errors


def test_build_model_records_spec_and_fills_pooled() -> None:
    model = build_model(TINY_TRANSFORMER, {"name": "linear"}, 20, 0, 3)
    assert isinstance(model, Classifier)
    assert model.spec is not None and model.spec["encoder"] == TINY_TRANSFORMER
    out = model(torch.ones(2, 4, dtype=torch.long), torch.ones(2, 4, dtype=torch.bool))
    assert out.pooled is not None and out.pooled.shape == (2, 16)


def test_encoder_tokenizer_kind() -> None:
    assert encoder_tokenizer_kind("pretrained") == "pretrained"  # the model folder's own
    assert encoder_tokenizer_kind("multilevel_minilm") == "minilm"
    for name in ("cnn", "bilstm", "transformer"):
        assert encoder_tokenizer_kind(name) == "wordpiece"
    assert {encoder_tokenizer_kind(n) for n in ENCODERS.names()} <= {"wordpiece", "minilm", "pretrained"}


def test_unknown_encoder_suggests_close_match() -> None:
    with pytest.raises(ValueError, match="Did you mean 'transformer'"):
        build_model({"name": "transfomer"}, {"name": "linear"}, 20, 0, 3)
    with pytest.raises(ValueError, match="Did you mean 'transformer'"):
        encoder_tokenizer_kind("transfomer")


def test_config_typo_names_the_key() -> None:
    with pytest.raises(ValueError, match="n_layer'"):
        build_model({**TINY_TRANSFORMER, "n_layer": 2}, {"name": "linear"}, 20, 0, 3)
    with pytest.raises(ValueError, match="label_chunk"):
        build_model(TINY_TRANSFORMER, {"name": "labelwise_attention", "label_chunk": 8}, 20, 0, 3)


def test_bad_values_and_missing_name_are_errors() -> None:
    with pytest.raises(ValueError, match="divisible"):
        build_model({**TINY_TRANSFORMER, "n_heads": 3}, {"name": "linear"}, 20, 0, 3)
    with pytest.raises(ValueError, match="'name'"):
        build_model({"d_model": 16}, {"name": "linear"}, 20, 0, 3)
    with pytest.raises(ValueError, match="num_labels"):
        build_model(TINY_TRANSFORMER, {"name": "linear"}, 20, 0, 0)


def test_label_attention_is_stable_on_long_documents_and_huge_scores() -> None:
    """Scores of 1e4 and beyond, 4,096 tokens, a row of pads only: finite, weights sum to 1."""
    from labelwise.registry import HEADS
    from labelwise.types import EncoderOutput

    torch.manual_seed(0)
    head = HEADS.create("labelwise_attention", 8, 3, attn_dim=4, dropout=0.0, return_attention=True)
    with torch.no_grad():
        head.label_query.mul_(1e4)
    h = torch.randn(2, 4096, 8) * 1e3
    mask = torch.ones(2, 4096, dtype=torch.bool)
    mask[1] = False  # nothing real in this row
    out = head(EncoderOutput(token_states=h, mask=mask, pooled=h.mean(1)))
    assert torch.isfinite(out.logits).all()
    attn = out.extras["attention"]
    torch.testing.assert_close(attn[0].sum(-1), torch.ones(3))
    assert float(attn[1].detach().abs().sum()) == 0.0


def test_which_stages_may_train_the_head_on_cached_features() -> None:
    """Cached pooled vectors stand in for the encoder only where nothing downstream differs:
    a fixed encoder (frozen, or a probe stage), a head reading the pooled vector, and a
    projection (left by contrastive pre-training) that the stage's loss does not read."""
    from types import SimpleNamespace

    from torch import nn

    from labelwise.training.features import can_cache_features

    model = nn.Module()
    model.encoder = nn.Module()
    model.head = nn.Module()
    model.head.pooled_only = True  # type: ignore[assignment]
    model.projection = nn.Linear(2, 2)
    ce, supcon = SimpleNamespace(needs_embeddings=False), SimpleNamespace(needs_embeddings=True)
    assert can_cache_features(model, False, probe=True, loss=ce)
    assert not can_cache_features(model, False, probe=True, loss=supcon)  # the projection trains
    assert not can_cache_features(model, False, probe=False, loss=ce)  # the encoder fine-tunes
    assert not can_cache_features(model, True, probe=True, loss=ce)  # chunk logits pool after the head
    model.head.pooled_only = False  # type: ignore[assignment]
    assert not can_cache_features(model, False, probe=True, loss=ce)  # e.g. label-wise attention


@pytest.mark.parametrize("encoder", [
    {"name": "cnn", "embed_dim": 16, "num_filters": 8, "kernel_sizes": [2, 3]},
    {"name": "bilstm", "embed_dim": 16, "hidden_dim": 8},
    TINY_TRANSFORMER,
    {**TINY_TRANSFORMER, "name": "multilevel"},
])
def test_a_batch_run_in_length_groups_gives_the_whole_batch_output(encoder: dict) -> None:
    """Rows sorted into length groups, each trimmed to its longest row, and put back in
    order: the same logits and pooled vectors as the padded batch (padding is masked)."""
    from labelwise.models.documents import forward_docs
    from labelwise.models.length_groups import forward_grouped, plan_groups
    from labelwise.types import Batch

    torch.manual_seed(0)
    lengths = [3, 30, 4, 28, 5, 3, 31, 6, 29, 4, 27, 5]
    groups = plan_groups(lengths)
    assert len(groups) >= 2 and sorted(np.concatenate(groups).tolist()) == list(range(len(lengths)))
    model = build_model(encoder, {"name": "linear"}, 50, 0, 3).eval()
    ids = torch.randint(1, 50, (len(lengths), 32))
    mask = torch.arange(32)[None, :] < torch.tensor(lengths)[:, None]
    batch = Batch(ids * mask, mask)
    whole = forward_docs(model, batch)
    grouped = forward_grouped(lambda b: forward_docs(model, b), batch)
    torch.testing.assert_close(grouped.logits, whole.logits, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(grouped.pooled, whole.pooled, atol=1e-5, rtol=1e-4)


def test_length_groups_only_where_they_save_padding() -> None:
    from labelwise.models.length_groups import plan_groups

    assert len(plan_groups([20] * 32)) == 1  # a bucketed batch stays whole
    assert len(plan_groups([3, 40] * 3)) == 1  # too few rows for two groups
    groups = plan_groups([3] * 8 + [40] * 8)
    assert [sorted(g.tolist()) for g in groups] == [list(range(8)), list(range(8, 16))]
