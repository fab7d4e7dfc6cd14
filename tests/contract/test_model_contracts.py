"""Contracts every registered encoder x head pair must meet.

A new encoder or head is covered automatically once registered; give it a tiny config in
``TINY_ENCODERS`` / ``TINY_HEADS`` to keep the suite fast (unknown names use defaults).
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import labelwise.losses  # noqa: F401  (registers the losses the contrastive contract uses)
from labelwise.models import Classifier, build_model
from labelwise.registry import ENCODERS, HEADS

VOCAB, PAD, LABELS, B, T = 50, 0, 5, 4, 12

TINY_ENCODERS: dict[str, dict] = {
    "cnn": {"embed_dim": 16, "kernel_sizes": [2, 3], "num_filters": 8},
    "bilstm": {"embed_dim": 16, "hidden_dim": 8},
    "transformer": {"d_model": 16, "n_heads": 2, "n_layers": 1, "max_len": 32},
    "pretrained": {},  # the real MiniLM, built once per session and copied
    "multilevel": {
        "d_model": 16,
        "n_heads": 2,
        "n_layers": 1,
        "max_len": 32,
        "window": 2,
        "compress": 2,
        "compress_mode": "learned",
        "ffn_rank": 4,
    },
    "multilevel_minilm": {"n_layers": 1, "window": 2, "compress": 2},  # MiniLM's first layer
}
TINY_HEADS: dict[str, dict] = {
    "linear": {"hidden_dim": 8},
    "labelwise_attention": {"attn_dim": 8, "label_chunk_size": 2},
}

PAIRS = [(e, h) for e in ENCODERS.names() for h in HEADS.names()]
_PROTOTYPES: dict[tuple[str, str], Classifier] = {}


def make_model(enc: str, head: str) -> Classifier:
    """A fresh copy of the tiny model for (enc, head); each pair is built once."""
    if (enc, head) not in _PROTOTYPES:
        torch.manual_seed(0)
        _PROTOTYPES[(enc, head)] = build_model(
            {"name": enc, **TINY_ENCODERS.get(enc, {})},
            {"name": head, **TINY_HEADS.get(head, {})},
            vocab_size=VOCAB,
            pad_id=PAD,
            num_labels=LABELS,
        )
    return copy.deepcopy(_PROTOTYPES[(enc, head)])


def make_batch(lengths: list[int], t: int = T) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ids (B, t) and bool mask (B, t) with the given real lengths."""
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1, VOCAB, (len(lengths), t), generator=g)  # (B, t)
    mask = torch.arange(t)[None, :] < torch.tensor(lengths)[:, None]  # (B, t)
    return ids.masked_fill(~mask, PAD), mask


pair_params = pytest.mark.parametrize(("enc", "head"), PAIRS, ids=[f"{e}-{h}" for e, h in PAIRS])


@pair_params
def test_forward_shapes(enc: str, head: str) -> None:
    model = make_model(enc, head).eval()
    ids, mask = make_batch([T, 7, 3, 1])
    eo = model.encode(ids, mask)
    d = model.encoder.out_dim
    assert isinstance(d, int)
    assert model.encoder.tokenizer in {"wordpiece", "minilm", "pretrained"}
    assert eo.token_states.shape == (B, T, d)
    assert eo.mask.shape == (B, T) and eo.mask.dtype == torch.bool
    assert eo.pooled.shape == (B, d)
    out = model(ids, mask)
    assert out.logits.shape == (B, LABELS)
    assert out.pooled is not None and out.pooled.shape == (B, d)
    assert "attention" not in out.extras


@pair_params
def test_backward_reaches_every_trainable_parameter(enc: str, head: str) -> None:
    model = make_model(enc, head).train()
    ids, mask = make_batch([T, 7, 3, 1])
    logits = model(ids, mask).logits
    (logits * torch.randn_like(logits)).sum().backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"no gradient for: {missing}"
    for n, p in model.named_parameters():
        if p.grad is not None:
            assert torch.isfinite(p.grad).all(), n


@pair_params
def test_padding_invariance(enc: str, head: str) -> None:
    model = make_model(enc, head).eval()
    lengths = [T, 7, 3, 1]
    ids, mask = make_batch(lengths)
    ids_long, mask_long = make_batch(lengths, t=T + 5)
    ids_long[:, :T] = ids  # same real tokens, five extra pads at the end
    with torch.no_grad():
        short, long = model.encode(ids, mask), model.encode(ids_long, mask_long)
        logits, logits_long = model(ids, mask).logits, model(ids_long, mask_long).logits
    torch.testing.assert_close(long.pooled, short.pooled, atol=1e-5, rtol=0)
    for i, n in enumerate(lengths):
        torch.testing.assert_close(
            long.token_states[i, :n], short.token_states[i, :n], atol=1e-5, rtol=0
        )
    torch.testing.assert_close(logits_long, logits, atol=1e-5, rtol=0)


@pair_params
def test_no_nan_on_nearly_and_fully_padded_rows(enc: str, head: str) -> None:
    model = make_model(enc, head).train()
    ids, mask = make_batch([T, 1, 0, 5])  # row 1: only position 0 is real; row 2: no token
    out = model(ids, mask)
    assert torch.isfinite(out.logits).all()
    assert torch.isfinite(out.pooled).all()
    out.logits.sum().backward()
    for n, p in model.named_parameters():
        if p.grad is not None:
            assert torch.isfinite(p.grad).all(), n


@pair_params
def test_safetensors_round_trip(enc: str, head: str, tmp_path: Path) -> None:
    model = make_model(enc, head).eval()
    ids, mask = make_batch([T, 7, 3, 1])
    save_file(model.state_dict(), str(tmp_path / "model.safetensors"))

    other = make_model(enc, head).eval()
    with torch.no_grad():
        for p in other.parameters():  # make sure loading, not luck, restores the weights
            p.add_(torch.randn_like(p))
    missing, unexpected = other.load_state_dict(load_file(str(tmp_path / "model.safetensors")))
    assert not missing and not unexpected
    with torch.no_grad():
        torch.testing.assert_close(other(ids, mask).logits, model(ids, mask).logits, atol=0, rtol=0)


@pytest.mark.parametrize("enc", ENCODERS.names())
def test_contrastive_objective_trains_every_encoder(enc: str) -> None:
    """CE + lambda * SupCon on two dropout views works on any encoder: the projection
    gives (2B, p) embeddings, the loss is finite and its gradient reaches the encoder."""
    from labelwise.registry import LOSSES
    from labelwise.training.dataset import forward_docs, two_views
    from labelwise.types import Batch

    torch.manual_seed(0)
    model = build_model(
        {"name": enc, **TINY_ENCODERS.get(enc, {})}, {"name": "linear"},
        vocab_size=VOCAB, pad_id=PAD, num_labels=LABELS, projection={"dim": 6},
    )
    model.train()
    ids, mask = make_batch([12, 7, 3, 9])
    batch = two_views(Batch(ids, mask, torch.tensor([0, 1, 0, 2])))
    out = forward_docs(model, batch)
    assert out.embeddings is not None and out.embeddings.shape == (2 * B, 6)
    loss = LOSSES.create("combined", parts=[{"name": "ce"}, {"name": "supcon", "weight": 0.2}])
    result = loss(out, batch.targets)
    assert torch.isfinite(result.total) and float(result.parts["supcon"]) > 0
    result.total.backward()
    grads = [p.grad for n, p in model.named_parameters() if n.startswith("encoder.") and p.requires_grad]
    assert any(g is not None and bool(g.abs().sum() > 0) for g in grads)
    assert all(p.grad is not None for p in model.projection.parameters())
