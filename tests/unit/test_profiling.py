"""labelwise profile: counted FLOPs, parameters and the CLI's JSON rows (tiny models)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from labelwise import load_config
from labelwise.cli import main
from labelwise.profiling import _lstm_flops, build_from_config, count_parameters, flops_per_document

TINY = ["model.encoder={name: transformer, d_model: 16, n_heads: 2, n_layers: 1, max_len: 64}",
        "tokenizer.vocab_size=200"]


def test_flops_of_a_linear_layer_are_counted_exactly() -> None:
    class Bag(nn.Module):  # embedding + Linear(8 -> 3): 2 * T * 8 * 3 FLOPs
        def __init__(self) -> None:
            super().__init__()
            self.emb, self.lin = nn.Embedding(50, 8), nn.Linear(8, 3)

        def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            return self.lin(self.emb(ids))

    assert flops_per_document(Bag(), 10, 50) == 2 * 10 * 8 * 3


def test_lstm_flops_follow_the_gate_algebra() -> None:
    lstm = nn.LSTM(4, 3, num_layers=2, bidirectional=True)
    per_step = 2 * (2 * 4 * 3 * (4 + 3)) + 2 * (2 * 4 * 3 * (6 + 3))
    assert _lstm_flops(lstm, 5) == 5 * per_step
    gru = nn.GRU(4, 3, bidirectional=True)
    assert _lstm_flops(gru, 5) == 5 * 2 * (2 * 3 * 3 * (4 + 3))


def test_attention_flops_grow_faster_than_length() -> None:
    cfg = load_config(None, TINY)
    model, vocab = build_from_config(cfg, 2)
    f16, f64 = flops_per_document(model, 16, vocab), flops_per_document(model, 64, vocab)
    assert 4 < f64 / f16 < 16  # linear parts x4, attention x16
    assert count_parameters(model) == sum(p.numel() for p in model.parameters())


def test_projection_is_built_for_a_contrastive_loss() -> None:
    cfg = load_config(None, [*TINY, "loss={name: combined, parts: [{name: ce}, {name: supcon}]}"])
    model, _ = build_from_config(cfg, 2)
    assert model.projection is not None


def test_profile_command_writes_rows(tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    sets = [a for s in TINY for a in ("--set", s)]
    code = main(["profile", *sets, "--length", "8", "16", "--batch-size", "2", "--train",
                 "--seconds", "0.01", "--json", str(out)])
    assert code == 0
    rows = json.loads(out.read_text())
    assert [r["length"] for r in rows] == [8, 16]
    assert all(r["infer_docs_per_s"] > 0 and r["train_docs_per_s"] > 0 for r in rows)
    assert rows[1]["flops_per_doc"] > rows[0]["flops_per_doc"]


def test_profile_refuses_the_linear_model() -> None:
    assert main(["profile", "--set", "model.type=linear"]) == 2
    with pytest.raises(ValueError, match="linear"):
        build_from_config(load_config(None, ["model.type=linear"]), 2)


def test_fused_attention_is_counted() -> None:
    class Attn(nn.Module):  # (1, 2 heads, T, 4): q k^T and a v, 2 * 2 * T * T * (4 + 4)
        def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            q = torch.ones(1, 2, ids.shape[1], 4)
            allowed = mask[:, None, None, :]
            return nn.functional.scaled_dot_product_attention(q, q, q, attn_mask=allowed)

    assert flops_per_document(Attn(), 8, 50) == 2 * 2 * 8 * 8 * 8


def test_profiled_training_step_scores_the_sampled_labels(monkeypatch: pytest.MonkeyPatch) -> None:
    from labelwise.models.heads.label_attention import LabelAttentionHead
    from labelwise.profiling import profile_config

    widths: list[int] = []
    forward = LabelAttentionHead.forward

    def spy(self: LabelAttentionHead, enc: object) -> object:
        out = forward(self, enc)  # type: ignore[arg-type]
        widths.append(int(out.logits.shape[1]))
        return out

    monkeypatch.setattr(LabelAttentionHead, "forward", spy)
    cfg = load_config(None, [*TINY, "task=extreme", "model.head={name: labelwise_attention, attn_dim: 4}",
                             "train.label_sample=7"])
    row = profile_config(cfg, [8], batch_size=2, num_labels=300, train=True, min_seconds=0.01)[0]
    assert row["train_docs_per_s"] > 0
    train_widths = [w for w in widths if w != 300]  # inference steps score every label
    assert train_widths and all(7 <= w < 300 for w in train_widths)
