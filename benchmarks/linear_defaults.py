"""Which linear model should be the default? Candidate settings of the TF-IDF linear model,
compared on validation data only, on every kind of task.

    python benchmarks/linear_defaults.py --datasets sst2 20newsgroups goemotions

For each dataset config (``configs/bench/datasets/<name>.yaml``, or ``<name>@<n>`` for its
first ``n`` training documents, a stand-in for small data sets), the training split is
read as a run would read it (a seeded tenth held out where the dataset has no validation
split); the test split is never opened. The validation documents are cut into two seeded
halves. Each candidate is fitted once on the training split; where the task tunes
thresholds, they are tuned on one half and measured on the other, then the other way
round, and the two are averaged (both threshold rules, one global and one per label, from
the same fit). Multi-class tasks have no thresholds: they are measured on all of the
validation split.

Fits run on one thread (``n_jobs: 1``) so that their times compare across candidates.
Writes ``benchmarks/results/linear-defaults/<name>.json`` after every candidate (a killed
study continues where it stopped); ``bench.py results`` shows it.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from labelwise.components import load_config
from labelwise.config import Config, DecodeConfig
from labelwise.estimator import TextClassifier, carve_valid
from labelwise.evaluation import evaluate_scores
from labelwise.profiling import device_name
from labelwise.runner import load_run_data
from labelwise.tasks import make_task

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "linear-defaults"
SEED = 13

# name -> model.linear settings (on top of the model's defaults, loss spelled out)
CANDIDATES: dict[str, dict[str, Any]] = {
    "logreg": {"loss": "logreg"},
    "l2svm": {"loss": "squared_hinge"},
    "l2svm-C0.25": {"loss": "squared_hinge", "C": 0.25},
    "l2svm-C4": {"loss": "squared_hinge", "C": 4.0},
    "l2svm-uni": {"loss": "squared_hinge", "ngram_range": [1, 1]},
    "l2svm-400k": {"loss": "squared_hinge", "max_features": 400_000},
    "l2svm-balanced": {"loss": "squared_hinge", "class_weight": "balanced"},
    "nbsvm": {"loss": "squared_hinge", "weighting": "nb", "ngram_range": [1, 3], "max_features": 400_000},
    "nbsvm-C0.1": {"loss": "squared_hinge", "weighting": "nb", "ngram_range": [1, 3], "max_features": 400_000,
                   "C": 0.1},
    "nblr": {"loss": "logreg", "weighting": "nb", "ngram_range": [1, 3], "max_features": 400_000, "C": 4.0},
}
# LIBLINEAR's stopping tolerance at the fast preset's two values of C (0.25 for short texts,
# 1 for long ones): scikit-learn's 1e-4 against looser ones, LIBLINEAR's own default 0.1 the loosest
for _c in (0.25, 1):
    for _tol in ("1e-4", "1e-3", "0.01", "0.1"):
        CANDIDATES[f"l2svm-C{_c}-tol{_tol}"] = {"loss": "squared_hinge", "C": float(_c), "tol": float(_tol)}


def _split_halves(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[: n // 2]), np.sort(order[n // 2 :])


def _measure(clf: TextClassifier, cfg: Config, names: list[str], scores: np.ndarray, y: np.ndarray,
             rule: str, halves: tuple[np.ndarray, np.ndarray]) -> dict[str, float]:
    """Validation metrics of fitted scores under a threshold ``rule``; thresholds are tuned
    on one half and measured on the other, both ways, and averaged."""
    y_train_counts = np.asarray(clf.labels_.train_counts)

    def run(task: Any, s: np.ndarray, t: np.ndarray) -> dict[str, float]:
        return evaluate_scores(names, s, task.decide(s), t, train_counts=y_train_counts,
                               num_train_docs=clf.labels_.num_train_docs)

    decode = DecodeConfig(**{**cfg.decode.model_dump(), "tune_threshold": rule})
    task = make_task(clf.labels_, decode)
    if not task.tunes_thresholds:
        return run(task, scores, y)
    tune_name = cfg.decode.tune_metric

    def metric(s: np.ndarray, pred: np.ndarray, t: np.ndarray) -> float:
        return evaluate_scores([tune_name], s, pred, t)[tune_name]

    folds = []
    for a, b in (halves, halves[::-1]):
        task.tune(scores[a], y[a], metric)
        folds.append(run(task, scores[b], y[b]))
    return {k: float(np.mean([f[k] for f in folds])) for k in folds[0]}


def study(name: str, candidates: list[str], command: str) -> None:
    dataset, _, cap = name.partition("@")
    cfg0 = load_config([ROOT / f"configs/bench/datasets/{dataset}.yaml"], [f"train.seed={SEED}"])
    data = load_run_data(cfg0, with_test=False)
    train, valid = data.train, data.valid
    if valid is None:
        train, valid = carve_valid(train, cfg0.data.valid_fraction, SEED)
    if cap:
        train = [train[i] for i in np.sort(np.random.default_rng(SEED).permutation(len(train))[: int(cap)])]
    out = OUT / f"{name}.json"
    record = json.loads(out.read_text()) if out.is_file() else {"dataset": dataset, "rows": []}
    done = {r["candidate"] for r in record["rows"]}
    halves = _split_halves(len(valid), SEED)
    for cand in candidates:
        if cand in done:
            continue
        linear = {**CANDIDATES[cand], "n_jobs": 1}
        cfg = load_config([ROOT / f"configs/bench/datasets/{dataset}.yaml"],
                          [f"train.seed={SEED}", "model.type=linear", f"model.linear={json.dumps(linear)}"])
        t0 = time.perf_counter()
        clf = TextClassifier(cfg).fit_examples(train, valid)
        seconds = time.perf_counter() - t0
        y = clf.labels_.encode_many(valid)
        scores = clf.predict_proba([e.text for e in valid])
        names = cfg.metrics or clf.task_.default_metrics()
        rules = ["global", "per_label"] if clf.task_.tunes_thresholds else ["none"]
        for rule in rules:
            metrics = _measure(clf, cfg, names, scores, y, rule, halves)
            record["rows"].append({
                "dataset": dataset, "system": f"linear:{cand}", "candidate": cand, "thresholds": rule,
                "linear": CANDIDATES[cand], "split": "valid", "metrics": metrics, "seeds": [SEED],
                "train_seconds": seconds, "num_train": len(train), "num_valid": len(valid),
                "device": device_name(), "command": command,
            })
        print(f"{name} {cand}: {seconds:.1f} s " + " ".join(
            f"{r['thresholds']}:{r['metrics'][clf.task_.primary_metric(cfg.train.primary_metric)]:.4f}"
            for r in record["rows"][-len(rules):]), flush=True)
        record["primary"] = clf.task_.primary_metric(cfg.train.primary_metric)
        record["name"] = name
        OUT.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(record, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", required=True,
                   help="configs/bench/datasets/<name>.yaml, or <name>@<n> for n training documents")
    p.add_argument("--candidates", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES))
    args = p.parse_args(argv)
    command = "python benchmarks/" + " ".join(shlex.quote(a) for a in [Path(__file__).name, *sys.argv[1:]])
    for name in args.datasets:
        study(name, args.candidates, command)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
