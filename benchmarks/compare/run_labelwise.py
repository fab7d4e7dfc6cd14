"""labelwise in the side-by-side benchmark: train a bench system (dataset config + system
config, the same files as ``run_baselines.py``), export it to ONNX and predict the test
split with ONNX Runtime (``--path torch`` predicts with PyTorch instead).

    python benchmarks/compare/run_labelwise.py --dataset sst2 --system transformer
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from common import ROOT, emit, runner_args, time_inference

sys.path.insert(0, str(ROOT / "benchmarks"))
import numpy as np
from run_baselines import system_file  # noqa: E402  (one rule for naming a system)

from labelwise import TextClassifier
from labelwise.components import load_config
from labelwise.export import OnnxPredictor, export_onnx
from labelwise.runner import load_run_data


def main() -> None:
    p = runner_args(__doc__ or "")
    p.add_argument("--system", default="transformer",
                   help="a system in configs/bench/systems/ or a config file, e.g. configs/finetune/minilm-l3-short.yaml")
    p.add_argument("--path", choices=["onnx", "onnx-int8", "torch"], action="append",
                   help="inference path (default onnx); repeat to time several, the first is the row's")
    p.add_argument("--dataset-config", help="the config in configs/bench/datasets/ to read (default: --dataset's "
                   "own); with another --dataset it names a folder dataset, e.g. a few-shot sample of it")
    p.add_argument("--set", dest="extra", action="append", default=[], help="a config override, e.g. "
                   "tokenizer.max_length=128 (repeatable)")
    p.add_argument("--topk", type=int, help="predict each document's K best-scored labels, best first, instead "
                   "of its decided label set (extreme multi-label ranking; the torch path)")
    args = p.parse_args()
    system = system_file(args.system)
    files = [ROOT / f"configs/bench/datasets/{args.dataset_config or args.dataset}.yaml", system]
    overrides = [f"train.seed={args.seed}", "train.progress=false", "train.tensorboard=false"]
    if args.data_dir:
        overrides.append(f"data.data_dir={args.data_dir}")
    if args.dataset_config:
        overrides.append(f"data.dataset={args.dataset}")
    overrides += args.extra
    if args.limit:
        overrides.append(f"data.max_train={args.limit}")
    cfg = load_config(files, overrides)
    data = load_run_data(cfg)
    test = data.test or []
    if args.limit:
        test = test[: args.limit]
    run_dir = Path(args.work) / f"labelwise-{args.dataset}-{system.stem}-s{args.seed}"
    if run_dir.exists():
        shutil.rmtree(run_dir)

    # the libraries the system trains with, imported before the clock starts, as every other
    # tool's runner imports its own (labelwise imports them on first use)
    import labelwise.linear  # noqa: F401  (scikit-learn)

    if cfg.model.type != "linear":
        import transformers  # noqa: F401

    t0 = time.perf_counter()
    clf = TextClassifier(cfg).fit_examples(data.train, data.valid, data.hierarchy, run_dir)
    train_seconds = time.perf_counter() - t0

    texts = [ex.text for ex in test]
    paths = args.path or ["onnx"]
    if any(p.startswith("onnx") for p in paths):
        export_onnx(run_dir, run_dir / "onnx", quantize="onnx-int8" in paths)
    timed = {}
    for path in paths:
        predictor = clf if path == "torch" else OnnxPredictor(run_dir / "onnx", quantized=path == "onnx-int8")

        def predict(batch: list[str], predictor=predictor) -> list[list[str]]:
            if args.topk:
                scores = predictor.predict_proba(batch)
                names = predictor.classes_
                return [[names[j] for j in row] for row in np.argsort(-scores, axis=1)[:, : args.topk]]
            return [row if isinstance(row, list) else [row] for row in predictor.predict(batch)]

        predictions, docs_per_s = time_inference(predict, texts)
        timed[path] = {"infer_docs_per_s": docs_per_s, "predictions": predictions}
    first = timed[paths[0]]
    emit({"train_seconds": train_seconds, **first, "num_train": len(data.train),
          "variants": {p: timed[p] for p in paths[1:]},
          "settings": {"system": args.system, "inference": paths[0],
                       "configs": [str(f.relative_to(ROOT)) for f in files], "overrides": args.extra}})


if __name__ == "__main__":
    main()
