"""``labelwise tune``: search config settings with Optuna, on the validation split only.

A search space is a small YAML file::

    metric: macro_f1            # optional: default the run's primary metric
    params:
      train.lr: {low: 1.0e-4, high: 1.0e-2, log: true}
      train.batch_size: {choices: [16, 32, 64]}
      model.encoder.dropout: {low: 0.0, high: 0.5}
      train.epochs: {type: int, low: 1, high: 5}

Every key is a config key (``data.*`` excluded: the data is read once). Each trial trains
the base config with the trial's values on the training split and scores the validation
split (the dataset's own, else a part of the training split held out once for every trial);
the test split is never read. Neural trials report the metric at every evaluation, so the
pruner (median or successive halving) stops the unpromising ones early.

The tune directory holds the study (``study.db``, SQLite: running the same command again
continues it, and a trial cut off by a crash is tried again), ``best.yaml`` (the base config
with the best values: ready for ``labelwise train -c``), ``trials.csv``, ``trials.png`` and
``tune.json``, all rewritten after every trial.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from labelwise import checkpoint as ckpt
from labelwise.components import load_config
from labelwise.config import Config, ConfigError, dump_config
from labelwise.config.files import safe_load_bounded, set_key
from labelwise.data.labels import LabelSpace, infer_task
from labelwise.estimator import TextClassifier, carve_valid
from labelwise.metrics.names import greater_is_better
from labelwise.registry import format_validation_error
from labelwise.runner import RunData, load_run_data
from labelwise.tasks import make_task, resolve_task

BASE_FILE = "base.yaml"  # the base config, resolved: a resumed study must start from the same
SPACE_FILE = "space.yaml"  # the search space, as validated
STUDY_FILE = "study.db"
BEST_FILE = "best.yaml"
TRIALS_FILE = "trials.csv"
PLOT_FILE = "trials.png"
SUMMARY_FILE = "tune.json"
Choice = str | int | float | bool | None


class ParamSpec(BaseModel):
    """The values one config key may take: a range (``low``, ``high``; ``log`` scale,
    ``step``) or a list of ``choices``. ``type`` defaults to categorical with choices, int
    when both ends are integers, else float."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["float", "int", "categorical"] | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = Field(None, gt=0)
    choices: list[Choice] | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _check(self) -> ParamSpec:
        if self.type is None:
            if self.choices is not None:
                self.type = "categorical"
            else:
                ints = all(isinstance(v, int) or (isinstance(v, float) and v.is_integer())
                           for v in (self.low, self.high) if v is not None)
                self.type = "int" if ints and self.low is not None and not self.log else "float"
        if self.type == "categorical":
            if self.choices is None or self.low is not None or self.high is not None:
                raise ValueError("a categorical parameter gives 'choices' (a list) and no low/high")
            return self
        if self.choices is not None:
            raise ValueError(f"a {self.type} parameter gives 'low' and 'high', not 'choices'")
        if self.low is None or self.high is None or not self.low < self.high:
            raise ValueError("give 'low' and 'high' with low < high")
        if self.log and (self.low <= 0 or self.step is not None):
            raise ValueError("a log scale needs low > 0 and no step")
        return self

    def suggest(self, trial: Any, name: str) -> Any:
        """This parameter's value for an Optuna ``trial``."""
        if self.type == "categorical":
            return trial.suggest_categorical(name, self.choices)
        assert self.low is not None and self.high is not None
        if self.type == "int":
            return trial.suggest_int(name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(name, self.low, self.high, step=self.step, log=self.log)

    def example(self) -> Any:
        """A value in the space (to check the key against the config before searching)."""
        if self.type == "categorical":
            return (self.choices or [None])[0]
        return int(self.low or 0) if self.type == "int" else self.low


class SearchSpace(BaseModel):
    """A ``labelwise tune`` search space: the metric to optimise and the parameters."""

    model_config = ConfigDict(extra="forbid")

    metric: str | None = None
    params: dict[str, ParamSpec] = Field(min_length=1)


def read_space(path: str | Path, base: Config) -> SearchSpace:
    """Read and check a search-space file: its keys must be config keys (outside ``data``),
    and a value from each range must make a valid config with ``base``."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"search space '{p}' not found (check the path given to --space)")
    loaded = safe_load_bounded(p.read_text(encoding="utf-8"), str(p))
    try:
        space = SearchSpace.model_validate(loaded if loaded is not None else {})
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, str(p)).replace(
            "invalid configuration", "invalid search space")) from None
    tree = base.model_dump(mode="json")
    for key, spec in space.params.items():
        if key.split(".")[0] == "data":
            raise ConfigError(f"{p}: '{key}': data settings cannot be searched (the data is read once "
                              "for every trial); set them in the base config")
        set_key(tree, key, spec.example())
    return space


@dataclass
class TuneResult:
    best_value: float | None
    best_params: dict[str, Any]
    trials: int
    out_dir: Path


def tune(
    config: str | Path | Sequence[str | Path] | None,
    overrides: Sequence[str],
    space_path: str | Path,
    out_dir: str | Path,
    trials: int = 20,
    timeout: float | None = None,
    pruner: str = "median",
    seed: int = 0,
    echo: Any = print,
) -> TuneResult:
    """Run (or continue) the study in ``out_dir`` until it holds ``trials`` finished trials
    (complete or pruned) or ``timeout`` seconds have passed; see the module docstring."""
    import optuna

    out = Path(out_dir)
    base = load_config(config, list(overrides))
    space = read_space(space_path, base)
    _check_same_study(out, base, space)
    data = _load_data(base)
    metric, direction = _objective_metric(base, space, data)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():  # the heartbeat is marked experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        # a trial whose process died (no heartbeat for 30 s) is failed and tried once more
        storage = optuna.storages.RDBStorage(
            f"sqlite:///{(out / STUDY_FILE).resolve()}", heartbeat_interval=10, grace_period=30,
            heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1))
    # a continued study seeds its sampler past the trials it holds: the same seed would
    # propose the first trials' values again
    held = len(optuna.load_study(study_name="labelwise", storage=storage).trials) \
        if "labelwise" in optuna.get_all_study_names(storage) else 0
    study = optuna.create_study(
        study_name="labelwise", storage=storage, load_if_exists=True, direction=direction,
        sampler=optuna.samplers.TPESampler(seed=seed + 100_003 * held), pruner=_pruner(pruner))
    study.set_user_attr("metric", metric)
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    done = len(study.get_trials(deepcopy=False, states=finished))
    started = time.perf_counter()

    def objective(trial: Any) -> float:
        values = {key: spec.suggest(trial, key) for key, spec in space.params.items()}
        cfg = load_config(config, list(overrides), {**values, "train.progress": False,
                                                    "train.tensorboard": False})
        evaluations = itertools.count(1)

        def observe(metrics: dict[str, float]) -> None:
            value = metrics.get(metric)
            if value is None:
                return
            trial.report(float(value), next(evaluations))
            if trial.should_prune():
                raise optuna.TrialPruned()

        t0 = time.perf_counter()
        clf = TextClassifier(cfg).fit_examples(data.train, data.valid, data.hierarchy, observe=observe,
                                               known_labels=sorted(data.full_train_counts or ()))
        trial.set_user_attr("train_seconds", time.perf_counter() - t0)
        assert data.valid is not None
        return float(clf.evaluate_examples(data.valid)[metric])

    def after(study: Any, trial: Any) -> None:
        _write_outputs(out, study, config, overrides, metric, time.perf_counter() - started)
        value = f"{metric} {trial.value:.4f}" if trial.value is not None else "no value"
        if trial.state.name == "PRUNED":  # Optuna keeps the last reported value of a pruned trial
            value = f"pruned at {value}"
        best = f"best {study.best_value:.4f}" if _has_complete(study) else "no trial complete yet"
        shown = ", ".join(f"{k}={_short(v)}" for k, v in trial.params.items())
        echo(f"trial {trial.number}: {value} ({best}) {shown}")

    remaining = max(0, trials - done)
    if remaining:
        study.optimize(objective, n_trials=remaining, timeout=timeout, callbacks=[after],
                       catch=(MemoryError,))
    _write_outputs(out, study, config, overrides, metric, time.perf_counter() - started)
    best = study.best_trial if _has_complete(study) else None
    best_value = None if best is None or best.value is None else float(best.value)
    return TuneResult(best_value, dict(best.params) if best else {},
                      len(study.get_trials(deepcopy=False, states=finished)), out)


def _pruner(name: str) -> Any:
    import optuna

    if name == "median":  # stop a trial below the median of earlier ones at the same evaluation
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ConfigError(f"--pruner '{name}': choose median, halving or none")


def _check_same_study(out: Path, base: Config, space: SearchSpace) -> None:
    """A tune directory continues only the study it holds: same base config, same space."""
    wanted = {BASE_FILE: dump_config(base), SPACE_FILE: _dump_space(space)}
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--output '{out}' is a file; a tune directory is a folder")
    if out.is_dir() and any(out.iterdir()):
        if not (out / STUDY_FILE).is_file():
            raise ConfigError(f"'{out}' is not empty and holds no {STUDY_FILE}: not a tune directory. "
                              "Choose another --output")
        for name, text in wanted.items():
            if not (out / name).is_file() or (out / name).read_text(encoding="utf-8") != text:
                raise ConfigError(f"the study in '{out}' was started with another {name.split('.')[0]} "
                                  "config or search space; continue it with the same ones, or choose "
                                  "another --output")
        return
    out.mkdir(parents=True, exist_ok=True)
    for name, text in wanted.items():
        ckpt.write_text(out / name, text)


def _dump_space(space: SearchSpace) -> str:
    import yaml

    return yaml.safe_dump(space.model_dump(mode="json", exclude_none=True), sort_keys=False)


def _load_data(cfg: Config) -> RunData:
    """Train and validation splits, never the test split; without a validation split, a
    part of the training split held out once, the same for every trial."""
    data = load_run_data(cfg, with_test=False)
    if data.valid is None:
        data.train, data.valid = carve_valid(data.train, cfg.data.valid_fraction, cfg.train.seed)
    return data


def _objective_metric(cfg: Config, space: SearchSpace, data: RunData) -> tuple[str, Literal["maximize", "minimize"]]:
    """The metric to optimise (the space's, else the run's primary metric) and its direction."""
    kind = resolve_task(cfg.task, data.hierarchy is not None, lambda: infer_task(data.train))
    labels = LabelSpace.fit(data.train, kind, hierarchy=data.hierarchy, unseen="ignore",
                            known_labels=sorted(data.full_train_counts or ()))
    task = make_task(labels, cfg.decode, labels.encode_many(data.train))
    computed = cfg.metrics or task.default_metrics()
    metric = space.metric or task.primary_metric(cfg.train.primary_metric)
    if metric == "loss" or metric not in computed:
        raise ConfigError(f"search space: metric '{metric}' is not among the metrics this run computes "
                          f"({', '.join(computed)}); choose one of them or add it to 'metrics'")
    return metric, "maximize" if greater_is_better(metric) else "minimize"


def _has_complete(study: Any) -> bool:
    import optuna

    return bool(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _write_outputs(out: Path, study: Any, config: Any, overrides: Sequence[str], metric: str,
                   seconds: float) -> None:
    """trials.csv, trials.png, tune.json and (once a trial is complete) best.yaml."""
    trials = study.get_trials(deepcopy=False)
    names = sorted({k for t in trials for k in t.params})
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["trial", "state", metric, "train_seconds", *names])
    for t in trials:
        writer.writerow([t.number, t.state.name.lower(), "" if t.value is None else f"{t.value:.6f}",
                         f"{t.user_attrs.get('train_seconds', 0.0):.1f}", *(t.params.get(k, "") for k in names)])
    ckpt.write_text(out / TRIALS_FILE, buf.getvalue())
    summary: dict[str, Any] = {"metric": metric, "direction": study.direction.name.lower(),
                               "trials": {s: sum(t.state.name.lower() == s for t in trials)
                                          for s in ("complete", "pruned", "fail", "running")},
                               "seconds_this_call": seconds,
                               # every call's trials, from their start and end times in the study
                               "trial_seconds_total": sum(t.duration.total_seconds() for t in trials
                                                          if t.duration is not None)}
    if _has_complete(study):
        best = study.best_trial
        summary.update(best_trial=best.number, best_value=best.value, best_params=best.params)
        cfg = load_config(config, list(overrides), dict(best.params))
        header = (f"# chosen by labelwise tune: trial {best.number} of {len(trials)}, "
                  f"{metric} {best.value:.4f} on the validation split\n")
        ckpt.write_text(out / BEST_FILE, header + dump_config(cfg))
    ckpt.write_json(out / SUMMARY_FILE, summary)
    _plot(out / PLOT_FILE, trials, metric, study.direction.name.lower() == "maximize")


def _plot(path: Path, trials: list[Any], metric: str, maximize: bool) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [(t.number, t.value) for t in trials if t.value is not None]
    pruned = [(t.number, max(t.intermediate_values.values(), default=None) if maximize
               else min(t.intermediate_values.values(), default=None))
              for t in trials if t.state.name == "PRUNED"]
    fig, ax = plt.subplots(figsize=(7, 4))
    if done:
        xs, ys = zip(*done, strict=True)
        ax.scatter(xs, ys, label="complete", color="tab:blue")
        best, line = None, []
        for y in ys:
            best = y if best is None or (y > best if maximize else y < best) else best
            line.append(best)
        ax.step(xs, line, where="post", color="tab:orange", label="best so far")
    shown = [(x, y) for x, y in pruned if y is not None]
    if shown:
        ax.scatter(*zip(*shown, strict=True), marker="x", color="tab:gray", label="pruned (last report)")
    ax.set_xlabel("trial")
    ax.set_ylabel(f"{metric} (validation)")
    ax.legend(loc="best")
    fig.tight_layout()

    def write(p: Path) -> None:
        fig.savefig(p, dpi=110, format="png")

    ckpt.atomic_write(path, write)
    plt.close(fig)


def summary_json(result: TuneResult) -> str:
    return json.dumps({"best_value": result.best_value, "best_params": result.best_params,
                       "trials": result.trials, "output": str(result.out_dir)}, indent=2)
