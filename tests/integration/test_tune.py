"""``labelwise tune``: a study on the validation split that writes a ready-to-train config,
continues where it stopped, never reads the test split, and prunes neural trials."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

from labelwise import tuning  # noqa: E402
from labelwise.cli import main  # noqa: E402
from labelwise.config import ConfigError  # noqa: E402

WORDS = {"pos": "good great fine nice lovely", "neg": "bad awful poor sad ugly"}


def _data(tmp: Path) -> Path:
    rows = []
    for i in range(80):
        lab = "pos" if i % 2 else "neg"
        words = WORDS[lab].split()
        rows.append({"text": f"{words[i % 5]} {words[(i * 3) % 5]} item {i}", "labels": [lab]})
    path = tmp / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _base(tmp: Path, neural: bool = False) -> Path:
    model = ("model: {encoder: {name: cnn, embed_dim: 8, num_filters: 4, kernel_sizes: [2]}}\n"
             "tokenizer: {vocab_size: 120, max_length: 12}\n"
             "train: {epochs: 3, batch_size: 8, eval_every: 3, patience: null}\n"
             if neural else "model: {type: linear, linear: {min_df: 1}}\n")
    # the test file does not exist: reading it would fail, so a study that runs never read it
    data = f"data: {{train: {_data(tmp)}, test: {tmp / 'never-read.jsonl'}}}\n"
    path = tmp / "base.yaml"
    path.write_text(model + data)
    return path


def _space(tmp: Path, text: str) -> Path:
    path = tmp / "space.yaml"
    path.write_text(text)
    return path


LINEAR_SPACE = """
metric: accuracy
params:
  model.linear.C: {low: 0.01, high: 100, log: true}
  model.linear.loss: {choices: [squared_hinge, logreg]}
"""


def test_linear_study_writes_best_config_and_continues(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base, space, out = _base(tmp_path), _space(tmp_path, LINEAR_SPACE), tmp_path / "tune"
    argv = ["tune", "-c", str(base), "--space", str(space), "-o", str(out), "--pruner", "none"]
    assert main([*argv, "--trials", "4"]) == 0
    assert "best of 4 trials" in capsys.readouterr().out
    with open(out / "trials.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4 and {r["state"] for r in rows} == {"complete"}
    summary = json.loads((out / "tune.json").read_text())
    assert summary["metric"] == "accuracy" and summary["best_value"] == max(float(r["accuracy"]) for r in rows)
    assert (out / "trials.png").stat().st_size > 0
    # the study continues: 2 more trials, with values of their own
    assert main([*argv, "--trials", "6"]) == 0
    with open(out / "trials.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 6
    assert {r["model.linear.C"] for r in rows[4:]}.isdisjoint(r["model.linear.C"] for r in rows[:4])
    # best.yaml trains as it is, with the best values
    best = json.loads((out / "tune.json").read_text())["best_params"]
    text = (out / "best.yaml").read_text()
    assert text.startswith("# chosen by labelwise tune") and f"loss: {best['model.linear.loss']}" in text
    run = tmp_path / "run"
    assert main(["train", "-c", str(out / "best.yaml"), "--set", f"data.test={_data(tmp_path)}",
                 "-o", str(run)]) == 0
    # another base config is another study
    assert main([*argv, "--trials", "6", "--set", "model.linear.min_df=2"]) == 2
    assert "started with another base config" in capsys.readouterr().err


def test_neural_trials_report_every_evaluation_and_can_be_pruned(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    base = _base(tmp_path, neural=True)
    space = _space(tmp_path, "params:\n  train.lr: {low: 0.001, high: 0.05, log: true}\n")
    out = tmp_path / "tune"
    result = tuning.tune(base, [], space, out, trials=2, pruner="none", echo=lambda line: None)
    study = optuna.load_study(study_name="labelwise", storage=f"sqlite:///{out / 'study.db'}")
    assert result.trials == 2
    assert all(len(t.intermediate_values) >= 3 for t in study.trials)  # one value per evaluation
    # a pruner that stops every trial at its first report
    monkeypatch.setattr(tuning, "_pruner", lambda name: optuna.pruners.ThresholdPruner(lower=2.0))
    tuning.tune(base, [], space, out, trials=3, echo=lambda line: None)
    study = optuna.load_study(study_name="labelwise", storage=f"sqlite:///{out / 'study.db'}")
    last = study.trials[-1]
    assert last.state == optuna.trial.TrialState.PRUNED and len(last.intermediate_values) == 1


@pytest.mark.parametrize(("text", "message"), [
    ("params:\n  train.lrr: {low: 0.1, high: 1}\n", "unknown config key 'train.lrr'"),
    ("params:\n  data.max_train: {low: 10, high: 100}\n", "data settings cannot be searched"),
    ("params:\n  train.lr: {low: 1, high: 0.1}\n", "low < high"),
    ("params:\n  train.lr: {low: 0, high: 1, log: true}\n", "log scale needs low > 0"),
    ("params: {}\n", "params"),
    ("metric: nope\nparams:\n  model.linear.C: {low: 0.1, high: 1}\n", "metric 'nope'"),
])
def test_bad_search_spaces_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        tuning.tune(_base(tmp_path), [], _space(tmp_path, text), tmp_path / "tune", trials=1,
                    echo=lambda line: None)
