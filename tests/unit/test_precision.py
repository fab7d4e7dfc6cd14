"""train.precision: bf16 autocast only where the hardware computes it natively, float32
parameters and outputs either way."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from labelwise import TextClassifier
from labelwise.models import build_model, precision
from labelwise.models.precision import resolve_precision

CPU = torch.device("cpu")


def test_auto_picks_bf16_only_with_native_support(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_precision("fp32", CPU) is None
    assert resolve_precision("bf16", CPU) is torch.bfloat16
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: False)
    assert resolve_precision("auto", CPU) is None
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)
    assert resolve_precision("auto", CPU) is torch.bfloat16


def test_cpu_flags_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    flags = tmp_path / "cpuinfo"
    flags.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f\n")
    precision.cpu_flags_have_bf16.cache_clear()
    monkeypatch.setattr(precision, "Path", lambda _: flags)
    monkeypatch.delenv(precision.NATIVE_BF16_ENV, raising=False)
    try:
        assert not precision.cpu_has_native_bf16()
        flags.write_text("flags\t\t: fpu avx512f avx512_bf16 amx_tile\n")
        precision.cpu_flags_have_bf16.cache_clear()
        assert precision.cpu_has_native_bf16()
        monkeypatch.setenv(precision.NATIVE_BF16_ENV, "0")  # the override wins over the flags
        assert not precision.cpu_has_native_bf16()
        assert resolve_precision("auto", CPU) is None
    finally:
        precision.cpu_flags_have_bf16.cache_clear()


def test_the_suite_runs_auto_in_float32() -> None:
    """tests/conftest.py: numbers compared across code paths (ONNX against PyTorch, two
    processes against one) must not depend on whether this CPU has bf16."""
    assert resolve_precision("auto", CPU) is None


def test_bf16_forward_gives_float32_outputs_close_to_fp32() -> None:
    torch.manual_seed(0)
    model = build_model({"name": "transformer", "d_model": 32, "n_layers": 1, "n_heads": 2},
                        {"name": "linear"}, 50, 0, 4, projection={"dim": 8}).eval()
    ids = torch.randint(1, 50, (3, 10))
    mask = torch.ones_like(ids, dtype=torch.bool)
    with torch.no_grad():
        want = model(ids, mask)
        model.compute_dtype = torch.bfloat16
        got = model(ids, mask)
    assert got.logits.dtype == got.pooled.dtype == got.embeddings.dtype == torch.float32
    torch.testing.assert_close(got.logits, want.logits, atol=0.05, rtol=0.05)
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_training_in_bf16_records_it(tmp_path: Path) -> None:
    cfg = {"model": {"encoder": {"name": "cnn", "embed_dim": 8, "num_filters": 4, "kernel_sizes": [2]}},
           "tokenizer": {"vocab_size": 100, "max_length": 8},
           "train": {"epochs": 1, "precision": "bf16", "progress": False, "tensorboard": False}}
    texts, labels = ["good fine", "bad poor"] * 8, ["pos", "neg"] * 8
    clf = TextClassifier(cfg).fit(texts, labels)
    assert clf.backend_.train_state["precision"] == "bf16"
    assert clf.predict_proba(texts).dtype.name == "float32"
