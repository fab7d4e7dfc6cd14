"""Baselines on GoEmotions, SST-2 and 20 Newsgroups: one JSON result per (dataset, system).

Each run composes ``configs/bench/datasets/<dataset>.yaml`` with
``configs/bench/systems/<system>.yaml``, trains on the training split (choosing the best
epoch on the validation split, or on 10% of train where there is none), and measures the
test split once. Results go to ``benchmarks/results/<dataset>__<system>.json``; then
``benchmarks/make_results_md.py`` rebuilds the table in ``benchmarks/RESULTS.md``.

    python benchmarks/run_baselines.py --datasets sst2 --systems cnn --seeds 13 14 15
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from labelwise import rundir
from labelwise.components import load_config
from labelwise.profiling import device_name
from labelwise.runner import check_resume_config, config_changes, train_run

ROOT = Path(__file__).resolve().parents[1]
DATASETS = sorted(p.stem for p in (ROOT / "configs/bench/datasets").glob("*.yaml"))
SYSTEMS = sorted(p.stem for p in (ROOT / "configs/bench/systems").glob("*.yaml"))
DEFAULT_DATASETS = ["goemotions", "sst2", "20newsgroups"]  # the baselines topic's first three
DEFAULT_SYSTEMS = ["linear", "cnn", "bilstm", "transformer", "pretrained-frozen"]


def _earlier_runs(path: Path, extra: list[str]) -> dict[int, dict]:
    """Seeds already recorded for this row with the same overrides, keyed by seed."""
    if not path.is_file():
        return {}
    old = json.loads(path.read_text())
    if old.get("overrides", []) != extra:
        return {}
    n = len(old["seeds"])
    per_label = old.get("per_label_f1_per_seed") or [None] * n
    devices = old.get("device_per_seed") or [old["device"]] * n
    resumed = set(old.get("resumed_seeds", []))
    return {s: {"test": m, "train_seconds": t, "test_docs_per_second": d, "per_label_f1": f, "device": dev,
                "resumed": s in resumed}
            for s, m, t, d, f, dev in zip(old["seeds"], old["metrics_per_seed"], old["train_seconds_per_seed"],
                                          old.get("test_docs_per_second_per_seed", [old["test_docs_per_second"]] * n),
                                          per_label, devices, strict=True)}


def run_one(dataset: str, system: str, seeds: list[int], out_dir: Path, extra: list[str],
            tag: str | None = None, embedding_quality: bool = False, per_label: bool = False,
            resume: bool = False, runs_dir: Path = ROOT / "runs" / "bench") -> dict:
    """Train and test one row for each seed; seeds recorded earlier are kept, so a row
    can grow one seed at a time. ``tag`` names a variant of the row (e.g. a training
    fraction set with ``--set``): its file is ``<dataset>__<system>@<tag>.json``. With
    ``resume``, a seed the row records already is kept, a finished run directory of the same
    configuration gives its metrics, and a seed whose run directory holds a checkpoint
    continues from it (a run longer than one sitting); its time adds the earlier processes'
    up to their last checkpoint."""
    files = [ROOT / f"configs/bench/datasets/{dataset}.yaml", system_file(system)]
    stem = Path(system).stem
    name = stem if tag is None else f"{stem}@{tag}"
    out_path = out_dir / f"{dataset}__{name}.json"
    runs: dict[int, dict] = {}
    label_info: dict = {}
    if out_path.is_file() and per_label:
        old = json.loads(out_path.read_text())
        label_info = {k: old[k] for k in ("classes", "label_train_counts") if k in old}
    recorded = _earlier_runs(out_path, extra) if resume else {}
    for seed in seeds:
        if seed in recorded:
            print(f"{dataset} {system} seed {seed}: recorded in {out_path.name}, kept", flush=True)
            continue
        cfg = load_config(files, [f"train.seed={seed}", "train.progress=false", *extra])
        run_dir = runs_dir / f"{dataset}-{name}-s{seed}"
        if resume and not (embedding_quality or per_label) and _finished(run_dir, cfg):
            print(f"{dataset} {system} seed {seed}: {run_dir} finished earlier, its metrics kept", flush=True)
            runs[seed] = {**json.loads((run_dir / "metrics.json").read_text()), "device": device_name()}
            continue
        again = resume and _can_resume(run_dir, cfg)
        if again:
            print(f"{dataset} {system} seed {seed}: resuming {run_dir}", flush=True)
        clf, metrics, _ = train_run(cfg, run_dir, overwrite=not again, resume=again)
        if embedding_quality:
            metrics["test"].update(_embedding_quality(clf, cfg, seed))
        if per_label:
            metrics["per_label_f1"], label_info = _per_label(clf, cfg)
        metrics["device"] = device_name()
        runs[seed] = metrics
        print(f"{dataset} {system} seed {seed}: {json.dumps({k: round(v, 4) for k, v in metrics['test'].items()})}"
              f" train {metrics['train_seconds']:.0f}s", flush=True)
    with _locked(out_path):  # other seeds of this row may be running side by side
        runs = {**_earlier_runs(out_path, extra), **runs}
        return _write_row(out_path, runs, dataset, system, tag, extra, files, label_info, embedding_quality,
                          per_label)


def system_file(system: str) -> Path:
    """A system in configs/bench/systems/, or a config file (a shipped config in configs/,
    named by its path from the repository root)."""
    return ROOT / system if system.endswith(".yaml") else ROOT / f"configs/bench/systems/{system}.yaml"


def _system_arg(value: str) -> str:
    if value in SYSTEMS or (value.endswith(".yaml") and (ROOT / value).is_file()):
        return value
    raise argparse.ArgumentTypeError(f"{value!r} is neither a system in configs/bench/systems/ "
                                     "nor a config file under the repository root")


def _system_name(system: str) -> str:
    """The row's system: linear-tfidf (and linear-tfidf-<variant>) for the TF-IDF linear
    configs, labelwise:<name> for the neural ones."""
    if system == "linear" or system.startswith("linear-"):
        return "linear-tfidf" + system[len("linear"):]
    return f"labelwise:{system}"


def _finished(run_dir: Path, cfg) -> bool:
    """A finished run of this very configuration is there (a row's seed that completed in an
    earlier process that was stopped before it wrote the row)."""
    if rundir.run_state(run_dir) != "complete" or not all((run_dir / f).is_file() for f in ("metrics.json", rundir.CONFIG)):
        return False
    return not config_changes(run_dir, cfg)[0]


def _can_resume(run_dir: Path, cfg) -> bool:
    """A checkpoint of this very configuration is there to continue from (a training loop's,
    or a fusion's finished members). A checkpoint of another configuration is an error, not
    deleted: hours of training may be in it. (A preset's run is checked by ``train_run``,
    once the preset is resolved: its config.yaml holds the model the preset chose.)"""
    if rundir.run_state(run_dir) != "resumable":
        return False
    if cfg.preset is None:
        try:
            check_resume_config(run_dir, cfg)
        except ValueError as err:
            raise SystemExit(f"{err}. Its checkpoint is kept: run it with the configuration it started "
                             f"with, or delete {run_dir} to start afresh") from None
    return True


@contextlib.contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name("." + path.name + ".lock"), "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def seed_stats(per_seed: list[dict[str, float]]) -> tuple[dict[str, float], dict[str, float] | None]:
    """Mean and (population) standard deviation of each metric over seeds; no spread for one seed."""
    names = list(per_seed[0])
    mean = {k: float(np.mean([m[k] for m in per_seed])) for k in names}
    std = {k: float(np.std([m[k] for m in per_seed])) for k in names} if len(per_seed) > 1 else None
    return mean, std


def _write_row(out_path: Path, runs: dict[int, dict], dataset: str, system: str, tag: str | None,
               extra: list[str], files: list[Path], label_info: dict, embedding_quality: bool,
               per_label: bool) -> dict:
    seeds = sorted(runs)
    per_seed = [runs[s]["test"] for s in seeds]
    times = [runs[s]["train_seconds"] for s in seeds]
    infer = [runs[s]["test_docs_per_second"] for s in seeds]
    mean, std = seed_stats(per_seed)
    result = {
        "dataset": dataset,
        "system": _system_name(Path(system).stem),
        "variant": tag,
        "metrics": mean,
        "metrics_std": std,
        "metrics_per_seed": per_seed,
        "seeds": seeds,
        "device": device_name(),
        "device_per_seed": [runs[s].get("device") for s in seeds],
        "train_seconds": float(np.mean(times)),
        "train_seconds_per_seed": times,
        # seeds trained in more than one process (--resume): their time is the sum
        "resumed_seeds": [s for s in seeds if runs[s].get("resumed")],
        "test_docs_per_second": float(np.mean(infer)),
        "test_docs_per_second_per_seed": infer,
        "overrides": extra,
        "per_label_f1_per_seed": [runs[s].get("per_label_f1") for s in seeds],
        **label_info,
        "command": "python benchmarks/run_baselines.py --datasets " + dataset + " --systems " + system
                   + " --seeds " + " ".join(map(str, seeds)) + "".join(f" --set {shlex.quote(e)}" for e in extra)
                   + (f" --tag {tag}" if tag else "") + (" --embedding-quality" if embedding_quality else "")
                   + (" --per-label" if per_label else ""),
        "configs": [str(f.relative_to(ROOT)) for f in files],
        "date": time.strftime("%Y-%m-%d"),
        "torch_threads": torch.get_num_threads(),
    }
    tmp = out_path.with_name(out_path.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(out_path)
    return result


def _per_label(clf, cfg) -> tuple[list[float], dict]:
    """Test F1 of each label, and the labels' names and training counts."""
    from labelwise.metrics import per_label_f1
    from labelwise.runner import load_run_data

    test = load_run_data(cfg).test or []
    y = clf.labels_.encode_many(test).astype(bool)
    pred = clf.decide(clf.predict_proba([e.text for e in test]))
    f1 = per_label_f1(pred, y)[0]
    return [float(v) for v in f1], {"classes": [str(c) for c in clf.classes_],
                                    "label_train_counts": [int(c) for c in clf.labels_.train_counts]}


def _embedding_quality(clf, cfg, seed: int) -> dict[str, float]:
    """Silhouette and Davies-Bouldin of the test documents' pooled vectors."""
    from labelwise.metrics.representation import embedding_quality
    from labelwise.runner import load_run_data

    test = load_run_data(cfg).test or []
    emb = clf.embed([e.text for e in test])
    y = clf.labels_.encode_many(test)
    if clf.task_.value == "hierarchical":  # cluster by the deepest level's node
        y = y[:, clf.labels_.levels[-1]]
    return embedding_quality(emb, y, seed=seed)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=DEFAULT_DATASETS, choices=DATASETS)
    p.add_argument("--systems", nargs="+", default=DEFAULT_SYSTEMS, type=_system_arg,
                   help="names in configs/bench/systems/ or config files such as configs/finetune/minilm-l3-short.yaml")
    p.add_argument("--tag", help="name of a variant (e.g. frac0.01 with --set data.train_fraction=0.01)")
    p.add_argument("--per-label", action="store_true", help="also record each label's test F1")
    p.add_argument("--embedding-quality", action="store_true",
                   help="also measure silhouette / Davies-Bouldin of the test embeddings")
    p.add_argument("--seeds", nargs="+", type=int, default=[13, 14, 15])
    p.add_argument("--set", dest="extra", action="append", default=[], help="extra config override")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    p.add_argument("--resume", action="store_true",
                   help="keep the seeds the row records, and the finished runs of this configuration in "
                        "runs/bench/; continue a seed's run from its checkpoint when there is one")
    p.add_argument("--runs", default=str(ROOT / "runs" / "bench"), help="where the run directories go")
    args = p.parse_args(argv)
    for dataset in args.datasets:
        for system in args.systems:
            run_one(dataset, system, args.seeds, Path(args.out), args.extra, args.tag, args.embedding_quality,
                    args.per_label, args.resume, Path(args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
