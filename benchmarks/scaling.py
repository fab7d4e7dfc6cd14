"""Time and peak memory per document against sequence length: global-only attention vs
the multi-level encoder with the lightweight module.

Every (model, length) is measured in a fresh process, so the peak resident memory it
reports belongs to that length alone: one document (batch 1) of random token ids, no
padding; inference (eval, no gradient) then one training step (forward, CE, backward,
AdamW), each repeated for at least ``--seconds`` after a warm-up.

    python benchmarks/scaling.py                 # all models, 256 ... 4096 tokens
    python benchmarks/scaling.py --models global-only --lengths 256 512

Writes ``benchmarks/results/scaling.json`` and ``benchmarks/results/scaling.png``. The
claim it checks: from 1,024 tokens up, doubling the length costs the multi-level encoder
(64 key/value slots) at most 2.3x the time, while global-only attention grows
quadratically (towards 4x).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHAPE = {"d_model": 128, "n_layers": 2, "n_heads": 4, "d_ff": 256, "dropout": 0.1, "max_len": 4096}
MODELS: dict[str, dict[str, Any]] = {
    "global-only": {"name": "transformer", **SHAPE},
    "multilevel-s4": {"name": "multilevel", **SHAPE, "window": 8, "compress": 4, "ffn_rank": 32},
    "multilevel-slots64": {"name": "multilevel", **SHAPE, "window": 8, "compress_slots": 64,
                           "ffn_rank": 32},
}
LENGTHS = [256, 512, 1024, 2048, 4096]
VOCAB = 20000
LINEAR_MODEL = "multilevel-slots64"
MAX_RATIO = 2.3


def measure_one(name: str, length: int, seconds: float) -> dict[str, Any]:
    """Runs inside the child process: one model at one length."""
    import torch

    from labelwise import components
    from labelwise.models import build_model
    from labelwise.profiling import flops_per_document, measure_rate, peak_rss_mb, random_batch

    components.load_all()
    torch.manual_seed(0)
    model = build_model(MODELS[name], {"name": "linear"}, VOCAB, 0, 2)
    batch = random_batch(1, length, VOCAB)
    target = torch.tensor([1])
    base = peak_rss_mb()
    model.eval()

    def infer() -> None:
        with torch.inference_mode():
            model(batch.input_ids, batch.attention_mask)

    infer_rate = measure_rate(infer, 1, seconds)
    infer_peak = peak_rss_mb() - base
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)

    def train() -> None:
        loss = torch.nn.functional.cross_entropy(model(batch.input_ids, batch.attention_mask).logits, target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    train_rate = measure_rate(train, 1, seconds)
    return {
        "model": name,
        "length": length,
        "infer_ms_per_doc": 1000.0 / infer_rate,
        "train_ms_per_doc": 1000.0 / train_rate,
        "infer_peak_mb": infer_peak,
        "train_peak_mb": peak_rss_mb() - base,
        "flops_per_doc": flops_per_document(model, length, VOCAB),
        "threads": torch.get_num_threads(),
    }


def doubling_ratios(rows: list[dict[str, Any]], key: str, start: int = 1024) -> list[float]:
    """time(2T) / time(T) for consecutive lengths from ``start`` up."""
    by_len = {r["length"]: r[key] for r in rows}
    ls = sorted(x for x in by_len if x >= start)
    return [by_len[b] / by_len[a] for a, b in zip(ls, ls[1:], strict=False) if b == 2 * a]


def plot(results: dict[str, list[dict[str, Any]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    panels = [("infer_ms_per_doc", "inference ms / document"),
              ("train_ms_per_doc", "training step ms / document"),
              ("train_peak_mb", "peak memory growth, MiB (training step)")]
    for ax, (key, label) in zip(axes, panels, strict=True):
        for name, rows in results.items():
            rows = sorted(rows, key=lambda r: r["length"])
            ax.plot([r["length"] for r in rows], [r[key] for r in rows], marker="o", label=name)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("tokens per document")
        ax.set_title(label)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend()
    fig.suptitle("Scaling with length (batch 1, d=128, 2 layers; log-log: slope 1 linear, 2 quadratic)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--lengths", nargs="+", type=int, default=LENGTHS)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    p.add_argument("--one", nargs=2, metavar=("MODEL", "LENGTH"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        print(json.dumps(measure_one(args.one[0], int(args.one[1]), args.seconds)))
        return 0


    from labelwise.profiling import device_name

    results: dict[str, list[dict[str, Any]]] = {}
    for name in args.models:
        for length in sorted(args.lengths):
            cmd = [sys.executable, __file__, "--one", name, str(length), "--seconds", str(args.seconds)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            row = json.loads(out.strip().splitlines()[-1])
            results.setdefault(name, []).append(row)
            print(f"{name:>20} {length:>5}: infer {row['infer_ms_per_doc']:8.1f} ms  train "
                  f"{row['train_ms_per_doc']:8.1f} ms  peak {row['train_peak_mb']:7.1f} MiB", flush=True)
    summary = {}
    for name, rows in results.items():
        summary[name] = {k: [round(x, 2) for x in doubling_ratios(rows, k)]
                         for k in ("infer_ms_per_doc", "train_ms_per_doc")}
        print(f"{name}: time ratio per doubling from 1024 tokens: {summary[name]}")
    claim = None
    if LINEAR_MODEL in summary and summary[LINEAR_MODEL]["infer_ms_per_doc"]:
        worst = max(summary[LINEAR_MODEL]["infer_ms_per_doc"] + summary[LINEAR_MODEL]["train_ms_per_doc"])
        claim = {"model": LINEAR_MODEL, "worst_ratio": worst, "limit": MAX_RATIO, "holds": worst <= MAX_RATIO}
        print(f"claim (at most {MAX_RATIO}x per doubling from 1024): worst {worst:.2f} -> "
              f"{'holds' if claim['holds'] else 'FAILS'}")
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    record = {
        "dataset": "random-tokens",
        "system": "labelwise:scaling",
        "metrics": {},
        "seeds": [0],
        "device": device_name(),
        "train_seconds": None,
        "command": "python benchmarks/scaling.py " + " ".join(argv or sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d"),
        "models": MODELS,
        "rows": results,
        "doubling_ratios_from_1024": summary,
        "claim": claim,
    }
    (out_dir / "scaling.json").write_text(json.dumps(record, indent=2) + "\n")
    plot(results, out_dir / "scaling.png")
    print(f"wrote {out_dir / 'scaling.json'} and scaling.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
