"""Few-shot side by side: labelwise and SetFit on k labelled examples per class, the very
same examples for both, on the same MiniLM-L6 weights.

For each dataset, k and seed, ``labelwise.data.sampling.per_class_sample`` draws k training
examples of each class (seeded; the draw for a larger k holds the one for a smaller k) and,
disjoint from them, k of each class for a validation file (from the dataset's validation
split, or from the rest of its training split where it has none). They are written as a
folder dataset, ``runs/fewshot-data/<dataset>-k<k>-s<seed>/`` (the test split is the
dataset's own, linked). A few-shot user has no large validation split: labelwise's system
evaluates once, after its last step, so the validation file chooses nothing; SetFit does
not read it. Each system then trains through its runner in this folder (``compare_tools``)
and predicts the whole test split; every metric is computed here.

    python benchmarks/compare/fewshot.py --datasets sst2 --shots 8 16 64 --seeds 13 14 15

One JSON per (dataset, k, system) in ``benchmarks/results/fewshot/``: the mean and spread
over the seeds of the metrics and of the training time. Each (dataset, k, seed, system)
is kept in ``runs/fewshot/`` as it finishes, so a run stopped half-way continues where it
stopped.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
from common import data_dir, label_names, read_split  # noqa: E402
from compare_tools import cpu_name, metrics, run_system  # noqa: E402

from labelwise.data.sampling import per_class_sample  # noqa: E402
from labelwise.types import Example  # noqa: E402

# system -> (compare_tools system, arguments after its own, name in the results)
SYSTEMS: dict[str, tuple[str, list[str], str]] = {
    "setfit": ("setfit", ["--num-iterations", "20"], "setfit"),
    "labelwise": ("labelwise-fewshot", [], "labelwise:fewshot-minilm-supcon"),
}
FEWSHOT_DATA = ROOT / "runs" / "fewshot-data"
CACHE = ROOT / "runs" / "fewshot"
OUT = ROOT / "benchmarks" / "results" / "fewshot"


def make_split(source: Path, dataset: str, k: int, seed: int, dest: Path) -> Path:
    """The few-shot folder dataset for (dataset, k, seed) under ``dest``; written once."""
    folder = dest / f"{dataset}-k{k}-s{seed}"
    if (folder / "test.jsonl.gz").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)

    def read(split: str) -> list[Example]:
        texts, labels = read_split(source, dataset, split)
        return [Example(t, tuple(lab)) for t, lab in zip(texts, labels, strict=True)]

    train, rest = per_class_sample(read("train"), k, seed)
    has_valid = (source / dataset / "valid.jsonl.gz").is_file()
    valid, _ = per_class_sample(read("valid") if has_valid else rest, k, seed + 1)
    for split, examples in (("train", train), ("valid", valid)):
        with gzip.open(folder / f"{split}.jsonl.gz", "wt", encoding="utf-8") as fh:
            for ex in examples:
                fh.write(json.dumps({"text": ex.text, "labels": list(ex.labels)}) + "\n")
    (folder / "test.jsonl.gz").symlink_to((source / dataset / "test.jsonl.gz").resolve())
    return folder


def run_cell(system: str, dataset: str, k: int, seed: int, args: argparse.Namespace) -> dict:
    """One system on one few-shot sample: what its runner printed (kept in ``runs/fewshot/``)."""
    cache = CACHE / f"{dataset}-k{k}-s{seed}__{system}.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    make_split(data_dir(args.data_dir), dataset, k, seed, FEWSHOT_DATA)
    tool, more, _ = SYSTEMS[system]
    more = [*more, "--work", str(CACHE / "work")]
    if tool.startswith("labelwise"):
        more += ["--dataset-config", dataset, "--set", f"tokenizer.max_length={args.max_length}"]
    else:
        more += ["--max-length", str(args.max_length)]
    ns = argparse.Namespace(seed=seed, data_dir=str(FEWSHOT_DATA), limit=None)
    out = run_system(tool, f"{dataset}-k{k}-s{seed}", ns, more)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(out) + "\n")
    return out


def write_row(dataset: str, k: int, system: str, cells: dict[int, dict], gold: list[list[str]],
              names: list[str], args: argparse.Namespace) -> dict:
    seeds = sorted(cells)
    per_seed = [metrics(gold, cells[s]["predictions"], names, False) for s in seeds]
    keys = per_seed[0].keys()
    times = [cells[s]["train_seconds"] for s in seeds]
    record = {
        "dataset": dataset, "system": SYSTEMS[system][2], "variant": f"k{k}", "shots_per_class": k,
        "metrics": {m: float(np.mean([r[m] for r in per_seed])) for m in keys},
        "metrics_std": {m: float(np.std([r[m] for r in per_seed])) for m in keys},
        "metrics_per_seed": per_seed, "seeds": seeds,
        "device": f"cpu: {cpu_name()}, 2 cores",
        "train_seconds": float(np.mean(times)), "train_seconds_per_seed": times,
        "infer_docs_per_s": float(np.mean([cells[s]["infer_docs_per_s"] for s in seeds])),
        "num_train": cells[seeds[0]].get("num_train"), "num_test": len(gold),
        "settings": cells[seeds[0]].get("settings", {}), "max_length": args.max_length,
        "command": f"python benchmarks/compare/fewshot.py --datasets {dataset} --shots {k} --systems {system}"
                   f" --seeds {' '.join(map(str, seeds))} --max-length {args.max_length}",
        "date": time.strftime("%Y-%m-%d"),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{dataset}@k{k}__{system}.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["sst2"])
    p.add_argument("--shots", nargs="+", type=int, default=[8, 16, 64], help="examples per class")
    p.add_argument("--seeds", nargs="+", type=int, default=[13, 14, 15])
    p.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=list(SYSTEMS))
    p.add_argument("--max-length", type=int, default=64, help="tokens per text, the same for every system")
    p.add_argument("--data-dir")
    args = p.parse_args(argv)
    for dataset in args.datasets:
        _, gold = read_split(data_dir(args.data_dir), dataset, "test")
        _, y_train = read_split(data_dir(args.data_dir), dataset, "train")
        names = label_names(y_train, gold)
        for k in args.shots:
            for system in args.systems:
                cells = {seed: run_cell(system, dataset, k, seed, args) for seed in args.seeds}
                row = write_row(dataset, k, system, cells, gold, names, args)
                shown = {m: f"{100 * v:.2f} +- {100 * row['metrics_std'][m]:.2f}" for m, v in row["metrics"].items()}
                print(f"{dataset} k={k} {system}: {shown} train {row['train_seconds']:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
