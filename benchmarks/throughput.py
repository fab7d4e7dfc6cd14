"""Fine-tuning and inference throughput of pretrained encoders on real documents: how many
documents per second each model, frozen-layer count and batching gives, on this machine.

    python benchmarks/throughput.py --dataset goemotions --models minilm-l6 minilm-l3 \\
        --freeze 0 3 --padding fixed bucketed --max-length 128

For each combination, the first ``--docs`` training documents of the dataset are tokenised
with the model's own tokenizer and cut into batches of ``--batch-size``:

- ``fixed``: every batch padded to ``--max-length`` (what a fixed-shape pipeline pays);
- ``random``: documents in random order, each batch padded to its longest document;
- ``bucketed``: labelwise's training order (shuffled pools of 50 batches sorted by length),
  each batch padded to its longest document.

Training docs/s times ``Trainer.train_step`` (forward, loss, backward, optimizer step) over
``--steps`` batches after one warm-up step; inference docs/s times the forward pass alone in
inference mode over the same batches. Writes ``benchmarks/results/throughput/<dataset>.json``
(shown in RESULTS.md by ``bench.py results``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]


def _batches(docs: list[list[int]], order: str, batch_size: int, max_length: int, pad_id: int,
             rng: np.random.Generator) -> list[tuple[torch.Tensor, torch.Tensor]]:
    from labelwise.data.collate import batch_order, pad_ids

    lengths = [len(d) for d in docs]
    if order == "bucketed":
        idx_batches = list(batch_order(lengths, batch_size, shuffle=True, rng=rng))
    else:
        perm = rng.permutation(len(docs))
        idx_batches = [perm[s:s + batch_size] for s in range(0, len(docs), batch_size)]
    out = []
    for idx in idx_batches:
        ids, mask = pad_ids([docs[i] for i in idx], pad_id)
        if order == "fixed" and ids.shape[1] < max_length:
            extra = max_length - ids.shape[1]
            ids, mask = F.pad(ids, (0, extra), value=pad_id), F.pad(mask, (0, extra), value=False)
        out.append((ids, mask))
    return out


def measure(dataset: str, model_name: str, freeze: int, padding: str, args: argparse.Namespace,
            precision: str = "auto") -> dict:
    from labelwise.backends.neural import NeuralBackend
    from labelwise.components import load_config
    from labelwise.data.catalog import load_splits, resolve_data_dir
    from labelwise.data.formats import read_examples
    from labelwise.losses.build import build_loss
    from labelwise.training.loop import Trainer
    from labelwise.types import Batch

    cfg = load_config([ROOT / f"configs/bench/datasets/{dataset}.yaml"], [
        f"model.encoder={{name: pretrained, model: {model_name}, freeze_layers: {freeze}}}",
        "model.head={name: linear}", "tokenizer.kind=auto", f"tokenizer.max_length={args.max_length}",
        f"train.batch_size={args.batch_size}", "train.lr=5e-5", "train.progress=false",
        f"train.precision={precision}"])
    examples = read_examples(load_splits(dataset, resolve_data_dir(None)).train)[: args.docs]
    texts = [e.text for e in examples]
    backend = NeuralBackend(cfg)
    backend.build_tokenizer(texts)
    num_labels = 2
    backend.build_model(num_labels)
    assert backend.tokenizer is not None and backend.model is not None
    docs = [d[0] for d in backend.tokenizer.documents(texts, cfg.tokenizer)]
    rng = np.random.default_rng(13)
    batches = _batches(docs, padding, args.batch_size, args.max_length, backend.tokenizer.pad_id, rng)
    batches = batches[: args.steps + 1]
    info = {"task": "multiclass", "num_labels": num_labels, "train_counts": np.ones(num_labels), "num_examples": 2,
            "pooled_dim": backend.model.encoder.out_dim, "embed_dim": 0, "seed": 13}
    trainer = Trainer(backend.model, build_loss({"name": "ce"}, info), cfg.train, torch.device("cpu"))
    targets = [torch.randint(0, num_labels, (ids.shape[0],)) for ids, _ in batches]

    def run(train: bool) -> float:
        backend.model.train(train)  # type: ignore[union-attr]
        docs_done, start = 0, None
        for i, ((ids, mask), y) in enumerate(zip(batches, targets, strict=True)):
            if i == 1:
                start, docs_done = time.perf_counter(), 0
            if train:
                trainer.train_step(Batch(ids, mask, y))
            else:
                with torch.inference_mode():
                    backend.model(ids, mask)  # type: ignore[misc]
            docs_done += ids.shape[0]
        assert start is not None
        return docs_done / (time.perf_counter() - start)

    tokens = [int(m.sum()) for _, m in batches[1:]]
    cells = [int(m.numel()) for _, m in batches[1:]]
    from labelwise.models.precision import precision_name

    return {"model": model_name, "freeze_layers": freeze, "padding": padding,
            "precision": precision_name(getattr(backend.model, "compute_dtype", None)),
            "train_docs_per_s": run(True), "infer_docs_per_s": run(False),
            "padding_share": 1 - sum(tokens) / sum(cells), "mean_tokens": float(np.mean([len(d) for d in docs]))}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="goemotions")
    p.add_argument("--models", nargs="+", default=["minilm-l6", "minilm-l3"])
    p.add_argument("--freeze", nargs="+", type=int, default=[0, 3])
    p.add_argument("--padding", nargs="+", default=["fixed", "random", "bucketed"],
                   choices=["fixed", "random", "bucketed"])
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--docs", type=int, default=3200, help="training documents to draw batches from")
    p.add_argument("--steps", type=int, default=12, help="timed batches per measurement")
    p.add_argument("--precision", nargs="+", default=["auto"], choices=["auto", "fp32", "bf16"],
                   help="train.precision of each cell (auto: bf16 where the CPU computes it natively)")
    p.add_argument("--tag", help="a variant's file name: <dataset>@<tag>.json (e.g. bf16)")
    args = p.parse_args(argv)
    from labelwise.profiling import device_name

    torch.manual_seed(13)
    rows = []
    for model_name in args.models:
        for freeze in args.freeze:
            for padding in args.padding:
                for precision in args.precision:
                    row = measure(args.dataset, model_name, freeze, padding, args, precision)
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    name = args.dataset if args.tag is None else f"{args.dataset}@{args.tag}"
    out = ROOT / "benchmarks" / "results" / "throughput" / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {"dataset": args.dataset, "device": device_name(), "torch_threads": torch.get_num_threads(),
              "max_length": args.max_length, "batch_size": args.batch_size, "steps": args.steps,
              "command": "python benchmarks/throughput.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "date": time.strftime("%Y-%m-%d"), "rows": rows}
    out.write_text(json.dumps(record, indent=2) + "\n")
    from make_results_md import throughput_markdown  # benchmarks/: the one table format

    print(throughput_markdown(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
