"""labelwise in the side-by-side benchmark: train a bench system (dataset config + system
config, the same files as ``run_baselines.py``), export it to ONNX and predict the test
split with ONNX Runtime (``--path torch`` predicts with PyTorch instead).

    python benchmarks/compare/run_labelwise.py --dataset sst2 --system transformer
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from common import ROOT, emit, runner_args, time_inference

from labelwise import TextClassifier
from labelwise.config import load_config
from labelwise.export import OnnxPredictor, export_onnx
from labelwise.runner import load_run_data


def main() -> None:
    p = runner_args(__doc__ or "")
    p.add_argument("--system", default="transformer")
    p.add_argument("--path", choices=["onnx", "onnx-int8", "torch"], default="onnx")
    args = p.parse_args()
    files = [ROOT / f"configs/bench/datasets/{args.dataset}.yaml", ROOT / f"configs/bench/systems/{args.system}.yaml"]
    overrides = [f"train.seed={args.seed}", "train.progress=false", "train.tensorboard=false"]
    if args.data_dir:
        overrides.append(f"data.data_dir={args.data_dir}")
    if args.limit:
        overrides.append(f"data.max_train={args.limit}")
    cfg = load_config(files, overrides)
    data = load_run_data(cfg)
    test = data.test or []
    if args.limit:
        test = test[: args.limit]
    run_dir = Path(args.work) / f"labelwise-{args.dataset}-{args.system}-s{args.seed}"
    if run_dir.exists():
        shutil.rmtree(run_dir)

    t0 = time.perf_counter()
    clf = TextClassifier(cfg).fit_examples(data.train, data.valid, data.hierarchy, run_dir)
    train_seconds = time.perf_counter() - t0

    texts = [ex.text for ex in test]
    if args.path == "torch":
        predictor = clf
    else:
        export_onnx(run_dir, run_dir / "onnx", quantize=args.path == "onnx-int8")
        predictor = OnnxPredictor(run_dir / "onnx", quantized=args.path == "onnx-int8")

    def predict(batch: list[str]) -> list[list[str]]:
        return [row if isinstance(row, list) else [row] for row in predictor.predict(batch)]

    predictions, docs_per_s = time_inference(predict, texts)
    emit({"train_seconds": train_seconds, "infer_docs_per_s": docs_per_s, "predictions": predictions,
          "num_train": len(data.train),
          "settings": {"system": args.system, "inference": args.path,
                       "configs": [str(f.relative_to(ROOT)) for f in files]}})


if __name__ == "__main__":
    main()
