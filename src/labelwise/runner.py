"""Config-driven runs: read the data a config names, train into a run directory, evaluate.

All data is read and checked, and the label space fitted, before anything is written, so
bad input never damages an existing run directory.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from labelwise import checkpoint as ckpt
from labelwise import distributed, rundir
from labelwise.card import write_model_card
from labelwise.config import Config, build_config, dump_config
from labelwise.data.catalog import load_splits, resolve_data_dir
from labelwise.data.formats import read_examples
from labelwise.data.hierarchy import Hierarchy
from labelwise.estimator import TextClassifier, carve_valid
from labelwise.training.elapsed import earlier_seconds
from labelwise.types import Example


@dataclass
class RunData:
    train: list[Example]
    valid: list[Example] | None
    test: list[Example] | None
    hierarchy: Hierarchy | None
    name: str
    # label -> documents of the whole training set, when only a fraction of it is trained
    # on (data.train_fraction / data.max_train): the run keeps every label of the data in
    # its label space and reports label groups (few-shot, ...) by these counts, so runs on
    # different fractions answer the same question
    full_train_counts: dict[str, int] | None = None


def _subsample(examples: list[Example], fraction: float, cap: int | None, seed: int) -> list[Example]:
    n = len(examples)
    keep = max(1, int(round(fraction * n)))
    if cap is not None:
        keep = min(keep, cap)
    if keep >= n:
        return examples
    idx = np.sort(np.random.default_rng(seed).permutation(n)[:keep])
    return [examples[i] for i in idx]


def load_run_data(cfg: Config, with_test: bool = True) -> RunData:
    """Read train/valid/test (and the hierarchy) that ``cfg.data`` names; ``with_test=False``
    never opens the test split (``labelwise tune`` chooses settings without it)."""
    d = cfg.data
    fmt = d.format
    paths: dict[str, Path | None]
    hier_path: Path | None = None
    if d.train is not None:
        paths = {"train": Path(d.train), "valid": Path(d.valid) if d.valid else None,
                 "test": Path(d.test) if d.test else None}
        name = Path(d.train).name.split(".")[0]
        if d.hierarchy == "auto":
            raise ValueError(
                "data.hierarchy: 'auto' finds a named dataset's hierarchy file; with data.train "
                "files give the hierarchy file's path instead"
            )
        if d.hierarchy is not None:
            hier_path = Path(d.hierarchy)
    elif d.dataset is not None:
        splits = load_splits(d.dataset, resolve_data_dir(d.data_dir))
        paths = {"train": splits.train, "valid": splits.valid, "test": splits.test}
        name = d.dataset
        if d.hierarchy == "auto" or (d.hierarchy is None and cfg.task == "hierarchical"):
            hier_path = splits.hierarchy
            if hier_path is None:
                raise ValueError(f"dataset '{d.dataset}' has no hierarchy file; set data.hierarchy to one")
        elif d.hierarchy is not None:
            hier_path = Path(d.hierarchy)
    else:
        raise ValueError("no data: set data.dataset (e.g. goemotions) or data.train (a file path)")
    if paths["train"] is None:
        raise ValueError(
            f"dataset '{name}' has no training split; train on another set or give data.train"
        )
    seed = cfg.train.seed
    columns: dict[str, Any] = {"text_column": d.text_column, "label_column": d.label_column}
    train_all = read_examples(paths["train"], fmt, **columns)
    if not train_all:
        raise ValueError(
            f"{paths['train']}: the training file has no examples; it must hold one "
            '{"text": ..., "labels": [...]} object per line'
        )
    valid = test = None
    subsampled = d.train_fraction < 1.0 or (d.max_train is not None and d.max_train < len(train_all))
    if paths["valid"] is None and subsampled:
        # no validation split: hold it out of the whole training set before taking the
        # fraction, so runs on every fraction choose their epoch on the same documents (as
        # with a dataset's own validation split) rather than on a fraction of a fraction
        train_all, valid = carve_valid(train_all, d.valid_fraction, seed)
    train = _subsample(train_all, d.train_fraction, d.max_train, seed)
    full_counts = None
    if len(train) < len(train_all):
        full_counts = dict(Counter(lab for e in train_all for lab in set(e.labels)))
        for lab in {lab for e in valid or () for lab in e.labels}:
            full_counts.setdefault(lab, 0)
    caps = [c for c in (d.max_eval, d.max_valid) if c is not None]
    if paths["valid"] is not None:
        valid = _subsample(read_examples(paths["valid"], fmt, **columns), 1.0, min(caps, default=None), seed)
    elif valid is not None and caps:  # held out of train above: the same caps
        valid = _subsample(valid, 1.0, min(caps), seed)
    if paths["test"] is not None and with_test:
        test = _subsample(read_examples(paths["test"], fmt, **columns), 1.0, d.max_eval, seed)
    hierarchy = None
    if hier_path is not None:
        hierarchy = Hierarchy.from_tsv(hier_path, allow_dag=cfg.data.hierarchy_dag)
    return RunData(train, valid, test, hierarchy, name, full_counts)


def default_run_dir(cfg: Config, data_name: str) -> Path:
    if cfg.preset is not None:
        return Path("runs") / f"{data_name}-{cfg.preset}"
    model = cfg.model.encoder["name"] if cfg.model.type == "neural" else cfg.model.type
    return Path("runs") / f"{data_name}-{model}"


def prepare_run_dir(run_dir: Path, overwrite: bool, resume: bool) -> tuple[bool, bool]:
    """Decide how a run in ``run_dir`` starts: ``(resume, replace)``. An unfinished run
    with no checkpoint (killed before its first one) is started again, with or without
    ``--resume`` and without ``--overwrite``: there is nothing in it to lose."""
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(f"--output '{run_dir}' is a file; a run directory is a folder. "
                         "Choose another --output")
    state = rundir.run_state(run_dir)
    if state == "foreign":
        raise ValueError(
            f"'{run_dir}' is not empty and holds no run.json, so it is not a labelwise run "
            "directory; labelwise neither resumes nor replaces it. Choose another --output"
        )
    if state == "started":
        _note(f"'{run_dir}' holds a run stopped before its first checkpoint: starting it again")
        return False, True
    if resume:
        if rundir.has_checkpoint(run_dir):
            return True, False
        if state == "complete":
            raise ValueError(f"cannot resume: the run in '{run_dir}' is complete. Train again with "
                             "--overwrite, or choose another --output")
        if not run_dir.exists():
            raise ValueError(f"cannot resume: '{run_dir}' does not exist. Check --output, or drop "
                             "--resume to start a new run")
        _note(f"'{run_dir}' holds no run yet: starting it")
        return False, False
    if state == "empty":
        return False, False
    if not overwrite:
        how = "--resume to continue it, " if state == "resumable" else ""
        raise ValueError(
            f"run directory '{run_dir}' already holds a {'finished' if state == 'complete' else 'stopped'} "
            f"run; pass {how}--overwrite to replace it, or choose another --output"
        )
    return False, True


def _note(message: str) -> None:
    if distributed.is_main():
        print(f"labelwise: note: {message}", file=sys.stderr)


def check_resume_config(run_dir: Path, cfg: Config) -> None:
    """Refuse to continue a run under another configuration than the one it started with,
    and a complete run where no stopping rule (``train.max_steps``, ``train.patience``) was
    loosened: it has nothing left to do."""
    changed, saved, now = config_changes(run_dir, cfg)
    if changed:
        shown = ", ".join(f"{k} ({saved.get(k)!r} -> {now.get(k)!r})" for k in changed[:5])
        raise ValueError(
            f"cannot resume '{run_dir}': its config.yaml differs at {shown}; resume with the "
            "configuration it started with, or start a new run (--overwrite)"
        )
    stopping = ("train.max_steps", "train.patience")
    if rundir.run_state(run_dir) == "complete" and all(saved.get(k) == now.get(k) for k in stopping):
        raise ValueError(
            f"cannot resume: the run in '{run_dir}' is complete. Continue it with a higher "
            "--set train.max_steps (or train.patience), train again with --overwrite, or choose "
            "another --output"
        )


def config_changes(run_dir: Path, cfg: Config) -> tuple[list[str], dict[str, Any], dict[str, Any]]:
    """The keys where ``cfg`` differs from the run's config.yaml in what a step learns (not
    in ``RESUME_MAY_CHANGE``), and both as flat dicts (none where it has no config.yaml)."""
    saved_file = run_dir / rundir.CONFIG
    if not saved_file.is_file():
        return [], {}, {}
    # read through today's schema: keys a newer labelwise added take their defaults, so an
    # upgrade between two sessions does not make every interrupted run a "changed" one
    saved_tree = yaml.safe_load(saved_file.read_text()) or {}
    try:
        saved_tree = yaml.safe_load(dump_config(build_config(saved_tree, str(saved_file)))) or {}
    except ValueError:  # a key this labelwise no longer knows: compare as written
        pass
    saved = _flatten(saved_tree)
    now = _flatten(yaml.safe_load(dump_config(cfg)) or {})
    changed = sorted(k for k in saved.keys() | now.keys()
                     if saved.get(k) != now.get(k) and k not in RESUME_MAY_CHANGE)
    return changed, saved, now


# settings that change how a run is watched or when it stops, not what each step learns
RESUME_MAY_CHANGE = {"train.progress", "train.tensorboard", "train.device", "train.eval_batch_size",
                     "train.max_steps", "train.patience", "output_dir", "data.data_dir"}


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def train_run(cfg: Config, run_dir: Path | None = None, overwrite: bool = False,
              resume: bool = False) -> tuple[TextClassifier, dict[str, Any], Path]:
    """Train as ``cfg`` says; write the run directory; return the model, metrics and path.

    Under ``torchrun`` every process runs this: they train together
    (:mod:`labelwise.distributed`), share the evaluation of the valid and test splits and
    return the same metrics; rank 0 alone writes the run directory.
    """
    with distributed.session(cfg.train.device):
        data = load_run_data(cfg)
        run_dir = Path(run_dir or cfg.output_dir or default_run_dir(cfg, data.name))
        if cfg.preset is not None:  # resolved here, so that a resumed run is checked against it
            from labelwise.presets import resolve_preset

            cfg, chose = resolve_preset(cfg, data.train, data.hierarchy is not None)
            _note(str(chose))
        resume, replace = prepare_run_dir(run_dir, overwrite, resume)
        if resume:
            check_resume_config(run_dir, cfg)
        earlier = earlier_seconds(run_dir) if resume else 0.0
        distributed.barrier()  # every process has checked the directory before rank 0 writes
        t0 = time.perf_counter()
        clf = TextClassifier(cfg).fit_examples(
            data.train, data.valid, data.hierarchy, run_dir, resume, replace=replace,
            known_labels=sorted(data.full_train_counts or ()),
        )
        train_seconds = earlier + time.perf_counter() - t0
        if data.full_train_counts is not None and distributed.is_main():
            # trained on part of the data: `labelwise evaluate` groups labels as this run does
            ckpt.write_json(run_dir / GROUP_COUNTS_FILE, data.full_train_counts)
        # the documents trained on: without a validation split, the part left after carving
        # one out (as labels.json counts them), not the whole training file
        metrics: dict[str, Any] = {"train_seconds": train_seconds, "num_train": clf.labels_.num_train_docs,
                                   "num_valid": len(data.valid) if data.valid else
                                   len(data.train) - clf.labels_.num_train_docs}
        if resume:
            metrics["resumed"] = True
        for split, examples in (("valid", data.valid), ("test", data.test)):
            if examples:
                t1 = time.perf_counter()
                metrics[split] = clf.evaluate_examples(examples, shard=True,
                                                       group_counts=data.full_train_counts)
                metrics[f"{split}_docs_per_second"] = len(examples) / (time.perf_counter() - t1)
        if distributed.is_main():
            ckpt.write_json(run_dir / rundir.METRICS, metrics)
            write_model_card(run_dir)  # again, now with the metrics
        distributed.barrier()
    return clf, metrics, run_dir


def evaluate_run(run_dir: Path, data_file: Path | None, split: str, data_dir: str | None,
                 fmt: str = "auto", overrides: Sequence[str] = (),
                 clf: TextClassifier | None = None) -> dict[str, float]:
    """Measure a trained run on a labelled file, or on a split of the dataset it was trained
    on; ``overrides`` change how it decodes (:data:`labelwise.estimator.LOAD_MAY_CHANGE`).
    ``clf``: the model to use instead of loading ``run_dir`` (an ONNX export's classifier)."""
    clf = clf or TextClassifier.load(run_dir, overrides)
    examples = labelled_examples(clf.config_, data_file, split, data_dir, fmt)
    return clf.evaluate_examples(examples, group_counts=read_group_counts(run_dir))


def labelled_examples(cfg: Config, data_file: Path | None, split: str, data_dir: str | None,
                      fmt: str = "auto") -> list[Example]:
    """A labelled file's examples, or a split of the dataset a run (``cfg``) trained on."""
    if data_file is None:
        if cfg.data.dataset is None:
            raise ValueError("this run was trained from files: give the labelled file with --data")
        splits = load_splits(cfg.data.dataset, resolve_data_dir(data_dir or cfg.data.data_dir))
        data_file = getattr(splits, split)
        if data_file is None:
            raise ValueError(f"dataset '{cfg.data.dataset}' has no '{split}' split")
    d = cfg.data
    return read_examples(data_file, fmt, text_column=d.text_column, label_column=d.label_column)


GROUP_COUNTS_FILE = rundir.GROUP_COUNTS


def read_group_counts(run_dir: Path) -> dict[str, int] | None:
    """The whole training set's label counts of a run trained on part of it (None for a
    run on all of it): label groups (few-shot, ...) follow them, not the part's counts."""
    path = Path(run_dir) / GROUP_COUNTS_FILE
    if not path.is_file():
        return None
    counts = ckpt.read_json(path)
    if not isinstance(counts, dict) or not all(isinstance(v, int) for v in counts.values()):
        raise ValueError(f"{path}: expected an object of label -> training documents; "
                         "the file is damaged: delete it to group labels by the run's own counts")
    return {str(k): int(v) for k, v in counts.items()}


def format_metrics(metrics: dict[str, float]) -> str:
    return json.dumps({k: round(v, 4) for k, v in metrics.items()}, indent=2)
