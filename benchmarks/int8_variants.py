"""Dynamic int8 quantisation choices for an exported model, on a validation split.

Quantises an export's fp32 graph four ways (7- or 8-bit weights, one scale a matrix or one
an output channel) and reports, beside the fp32 graph, each one's accuracy on the split and
its documents/s (after a warm-up). Used to choose ``labelwise.export._quantize``'s settings;
never point it at a test split to choose anything.

    python benchmarks/int8_variants.py runs/compare/labelwise-sst2-minilm-l6-short-s13/onnx \
        --dataset sst2 --split valid --threads 1
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from labelwise.data.catalog import resolve_data_dir
from labelwise.data.formats import read_jsonl
from labelwise.export import OnnxPredictor

VARIANTS = {
    "7-bit, per matrix": {"reduce_range": True, "per_channel": False},
    "7-bit, per channel": {"reduce_range": True, "per_channel": True},
    "8-bit, per matrix": {"reduce_range": False, "per_channel": False},
    "8-bit, per channel": {"reduce_range": False, "per_channel": True},
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("export_dir", help="a labelwise ONNX export (labelwise export / export_onnx)")
    p.add_argument("--dataset", required=True)
    p.add_argument("--split", default="valid")
    p.add_argument("--data-dir")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    from onnxruntime.quantization import QuantType, quantize_dynamic  # type: ignore[import-untyped]

    rows = list(read_jsonl(resolve_data_dir(args.data_dir) / args.dataset / f"{args.split}.jsonl.gz"))
    texts = [r.text for r in rows]
    gold = [r.labels[0] for r in rows]  # multi-class: one label a text

    def measure(predictor: OnnxPredictor) -> dict[str, float]:
        predictor.predict(texts[:64])
        t0 = time.perf_counter()
        pred = predictor.predict(texts)
        seconds = time.perf_counter() - t0
        return {"accuracy": float(np.mean([a == b for a, b in zip(pred, gold, strict=True)])),
                "docs_per_s": len(texts) / seconds}

    src = Path(args.export_dir)
    out = {"fp32": measure(OnnxPredictor(src, threads=args.threads))}
    with tempfile.TemporaryDirectory() as tmp:
        for name, kw in VARIANTS.items():
            d = Path(tmp) / name.replace(" ", "").replace(",", "-")
            shutil.copytree(src, d)
            quantize_dynamic(str(src / "model.onnx"), str(d / "model.int8.onnx"), weight_type=QuantType.QInt8, **kw)
            out[name] = measure(OnnxPredictor(d, quantized=True, threads=args.threads))
            print(name, out[name], flush=True)
    print(json.dumps({"dataset": args.dataset, "split": args.split, "threads": args.threads, "results": out}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
