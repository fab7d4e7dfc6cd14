"""Cost of a configured model: parameters, FLOPs per document, documents per second.

``labelwise profile -c CONFIG --length 256 1024`` builds the model a run config describes
(no data is read: the vocabulary size comes from the tokenizer settings) and measures it on
random token ids of exactly each length, one document per row, no padding.

- FLOPs: one forward pass of one document, counted by ``torch.utils.flop_counter`` (matrix
  products and convolutions; element-wise work is not counted), plus rules for what that
  counter does not see on CPU: fused attention (``scaled_dot_product_attention``) and LSTM
  layers.
- Documents per second: wall-clock inference (``eval`` mode, no gradient) and, with
  ``train=True``, training steps (forward, the configured loss with its two dropout views
  when it is contrastive, backward, AdamW step), each repeated for at least
  ``min_seconds`` after a warm-up.
- Peak memory: growth of the process's peak resident set size during the measurements at
  that length (lengths are measured in increasing order, so each figure is the high-water
  mark reached at that length; a fresh process per length gives cleaner numbers, as
  ``benchmarks/scaling.py`` does).
"""

from __future__ import annotations

import platform
import resource
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from labelwise.config import Config, TrainConfig
from labelwise.losses.base import Loss
from labelwise.training.loop import Trainer
from labelwise.types import Batch

MINILM_VOCAB = 30522


def count_parameters(model: nn.Module) -> int:
    """Number of scalar parameters (trainable or not)."""
    return sum(p.numel() for p in model.parameters())


def _lstm_flops(model: nn.Module, length: int) -> int:
    """Multiply-adds of every nn.LSTM (4 gates) and nn.GRU (3 gates) over one sequence of
    ``length`` steps, x2 (FLOPs): the flop counter does not see these layers on CPU."""
    total = 0
    for m in model.modules():
        if isinstance(m, (nn.LSTM, nn.GRU)):
            gates = 4 if isinstance(m, nn.LSTM) else 3
            dirs = 2 if m.bidirectional else 1
            h = m.hidden_size
            for layer in range(m.num_layers):
                d_in = m.input_size if layer == 0 else h * dirs
                total += dirs * length * 2 * gates * h * (d_in + h)
    return total


def _sdpa_flops(query_shape: Any, key_shape: Any, value_shape: Any, *args: Any, **kwargs: Any) -> int:
    """``softmax(q k^T) v``: two matrix products per head (the counter has no rule for the
    fused CPU operator, so without this attention would count as free)."""
    *lead, tq, d = query_shape
    tk, dv = key_shape[-2], value_shape[-1]
    n = 1
    for x in lead:
        n *= x
    return 2 * n * tq * tk * (d + dv)


# the public operator decomposes into a fused kernel; on CPU that is this one
SDPA_FLOPS = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _sdpa_flops}


def random_batch(batch_size: int, length: int, vocab_size: int, seed: int = 0) -> Batch:
    """Token ids drawn from ``[1, vocab_size)`` (0 is padding), every position real."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, vocab_size, (batch_size, length), generator=g)
    return Batch(ids, torch.ones(batch_size, length, dtype=torch.bool))


def flops_per_document(model: nn.Module, length: int, vocab_size: int) -> int:
    """FLOPs of one forward pass over one document of ``length`` tokens."""
    batch = random_batch(1, length, vocab_size)
    model.eval()
    counter = FlopCounterMode(display=False, custom_mapping=SDPA_FLOPS)
    with torch.inference_mode(), counter:
        model(batch.input_ids, batch.attention_mask)
    return int(counter.get_total_flops()) + _lstm_flops(model, length)


def measure_rate(step: Callable[[], object], docs_per_call: int, min_seconds: float) -> float:
    step()  # warm-up (allocations, kernel selection)
    calls, start = 0, time.perf_counter()
    while True:
        step()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds and calls >= 2:
            return calls * docs_per_call / elapsed


def inference_docs_per_second(
    model: nn.Module, length: int, batch_size: int, vocab_size: int, min_seconds: float = 2.0
) -> float:
    batch = random_batch(batch_size, length, vocab_size)
    model.eval()

    def step() -> None:
        with torch.inference_mode():
            model(batch.input_ids, batch.attention_mask)

    return measure_rate(step, batch_size, min_seconds)


def train_docs_per_second(
    model: nn.Module,
    loss_fn: Loss,
    length: int,
    batch_size: int,
    vocab_size: int,
    num_labels: int,
    multilabel: bool,
    train_cfg: TrainConfig,
    min_seconds: float = 2.0,
) -> float:
    """Training steps per second x batch size, each step the training loop's own
    (:meth:`Trainer.train_step`: the loss's hooks, two dropout views for a contrastive
    loss, ``train.label_sample``, clipping, the AdamW step). Multi-label targets have about
    5 positives per document (at most 20 % of the labels)."""
    batch = random_batch(batch_size, length, vocab_size)
    g = torch.Generator().manual_seed(1)
    if multilabel:
        rate = min(0.2, 5.0 / num_labels)
        batch.targets = (torch.rand(batch_size, num_labels, generator=g) < rate).float()
    else:
        batch.targets = torch.randint(0, num_labels, (batch_size,), generator=g)
    trainer = Trainer(model, loss_fn, train_cfg, torch.device("cpu"))
    model.train()
    loss_fn.train()
    return measure_rate(lambda: trainer.train_step(batch), batch_size, min_seconds)


def device_name() -> str:
    """The machine a measurement ran on: the GPU's name, or the CPU model and torch's threads."""
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    cpu = platform.processor() or "cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"cpu: {torch.get_num_threads()} threads, {cpu}"


def peak_rss_mb() -> float:
    """The process's peak resident set size so far, MiB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def build_from_config(cfg: Config, num_labels: int) -> tuple[nn.Module, int]:
    """The model ``cfg`` describes, untrained, and the vocabulary size it was built for."""
    from labelwise.backends import NeuralBackend
    from labelwise.models import build_model, encoder_tokenizer_kind

    if cfg.model.type != "neural":
        raise ValueError(f"profile measures neural models; model.type is '{cfg.model.type}'")
    vocab = MINILM_VOCAB if encoder_tokenizer_kind(cfg.model.encoder["name"]) in ("minilm", "pretrained") \
        else cfg.tokenizer.vocab_size
    torch.manual_seed(cfg.train.seed)
    model = build_model(cfg.model.encoder, cfg.model.head, vocab, 0, num_labels,
                        projection=NeuralBackend(cfg).projection_spec())
    # a pretrained model's own vocabulary bounds the token ids drawn for timing
    own = getattr(getattr(getattr(model.encoder, "model", None), "config", None), "vocab_size", None)
    return model, int(own or vocab)


def profile_config(
    cfg: Config,
    lengths: Sequence[int],
    batch_size: int = 16,
    num_labels: int = 2,
    train: bool = False,
    min_seconds: float = 2.0,
) -> list[dict[str, Any]]:
    """One row per length: parameters, FLOPs/doc, inference (and training) docs/s, peak MiB."""
    from labelwise.losses.build import build_loss

    if cfg.train.num_threads:
        torch.set_num_threads(cfg.train.num_threads)
    model, vocab = build_from_config(cfg, num_labels)
    task = "multiclass" if cfg.task in ("auto", "multiclass") else cfg.task
    multilabel = task != "multiclass"
    loss_fn = None
    if train:
        if task == "hierarchical":
            raise ValueError("profile --train needs a flat task (multiclass, multilabel, extreme)")
        info = {"task": task, "num_labels": num_labels, "levels": None, "exclusive": False,
                "train_counts": torch.ones(num_labels).numpy(), "num_examples": num_labels,
                "pooled_dim": int(getattr(model.encoder, "out_dim", 0)), "seed": cfg.train.seed,
                "embed_dim": int(((getattr(model, "spec", None) or {}).get("projection") or {}).get("dim", 0))}
        loss_fn = build_loss(cfg.loss, info)
    rows = []
    base = peak_rss_mb()
    params = count_parameters(model)
    for length in sorted(lengths):
        row: dict[str, Any] = {
            "length": length,
            "params": params,
            "flops_per_doc": flops_per_document(model, length, vocab),
            "infer_docs_per_s": inference_docs_per_second(model, length, batch_size, vocab, min_seconds),
        }
        if loss_fn is not None:
            row["train_docs_per_s"] = train_docs_per_second(
                model, loss_fn, length, batch_size, vocab, num_labels, multilabel, cfg.train,
                min_seconds,
            )
        row["peak_mem_mb"] = peak_rss_mb() - base
        row["threads"] = torch.get_num_threads()
        rows.append(row)
    return rows
