"""Benchmark helper scripts: the tables they print for RESULTS.md."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _row(seeds: list[int], values: list[float]) -> dict:
    per_seed = [{"acc": v} for v in values]
    mean = sum(values) / len(values)
    std = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5
    return {"seeds": seeds, "metrics_per_seed": per_seed, "metrics": {"acc": mean},
            "metrics_std": {"acc": std} if len(seeds) > 1 else None}


def test_data_efficiency_pairs_seeds(tmp_path: Path) -> None:
    mod = _load("plot_data_efficiency")
    # fraction 0.1: system b has seeds 13, 14, 15 but a only 13 and 15 -> two paired differences
    rows = {
        "a": {0.1: _row([13, 15], [0.50, 0.60]), 1.0: _row([13], [0.80])},
        "b": {0.1: _row([13, 14, 15], [0.55, 0.99, 0.61]), 1.0: _row([13], [0.79])},
    }
    table = mod.difference(rows, ["acc"])
    lines = table.splitlines()
    assert lines[2] == "| 0.1 | +3.00 ± 2.00 | 2 |"  # (5 + 1) / 2, population std 2
    assert lines[3] == "| 1 | -1.00 | 1 |"  # one paired seed: no spread
    md = mod.markdown(rows, ["acc"])
    assert "| b | 0.1 | 71.67 ± " in md and "| a | 1 | 80.00 | 1 |" in md


def test_data_efficiency_reads_tagged_rows(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    mod = _load("plot_data_efficiency")
    for name, values in {"ds__a.json": [0.8], "ds__a@frac0.05.json": [0.4, 0.5], "ds__a@fracX.json": [0.1]}.items():
        seeds = [13, 14][: len(values)]
        (tmp_path / name).write_text(json.dumps(_row(seeds, values)))
    assert list(mod.load_rows(tmp_path, "ds", "a")) == [0.05, 1.0]
    assert mod.main(["--dataset", "ds", "--systems", "a", "--metrics", "acc", "--results", str(tmp_path)]) == 0
    assert (tmp_path / "ds_data_efficiency.png").stat().st_size > 0


def test_run_baselines_resumes_only_a_checkpoint_of_the_same_config(tmp_path: Path) -> None:
    """A checkpoint of another configuration stops the runner; it is never deleted."""
    from labelwise import load_config
    from labelwise.config import dump_config

    mod = _load("run_baselines")
    cfg = load_config(None, ["train.seed=13"])
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(dump_config(cfg))
    (run / "run.json").write_text(json.dumps({"status": "training"}))
    assert not mod._can_resume(run, cfg)  # no checkpoint yet
    (run / "trainer_state.json").write_text("{}")
    assert mod._can_resume(run, cfg)
    assert mod._can_resume(run, load_config(None, ["train.seed=13", "train.progress=false"]))
    with pytest.raises(SystemExit, match=r"train\.seed.*checkpoint is kept"):
        mod._can_resume(run, load_config(None, ["train.seed=14"]))
    assert (run / "trainer_state.json").is_file()


def test_run_baselines_resume_keeps_recorded_seeds_and_finished_runs(tmp_path: Path, monkeypatch) -> None:
    """--resume trains neither a seed the row records nor one whose run finished (in a process
    stopped before it wrote the row); a finished run of another configuration is trained."""
    from labelwise import load_config
    from labelwise.config import dump_config

    mod = _load("run_baselines")
    trained: list[int] = []

    def fake_train(cfg, run_dir, overwrite, resume):
        trained.append(cfg.train.seed)
        return None, {"test": {"acc": 0.5}, "train_seconds": 1.0, "test_docs_per_second": 9.0}, run_dir

    monkeypatch.setattr(mod, "train_run", fake_train)
    out, runs = tmp_path / "out", tmp_path / "runs"
    out.mkdir()
    (out / "sst2__cnn.json").write_text(json.dumps({
        "seeds": [13], "metrics_per_seed": [{"acc": 0.9}], "train_seconds_per_seed": [5.0],
        "test_docs_per_second": 3.0, "device": "cpu", "overrides": []}))
    files = [ROOT / "configs/bench/datasets/sst2.yaml", ROOT / "configs/bench/systems/cnn.yaml"]
    for seed, config_seed in ((14, 14), (15, 99)):  # 15: finished, but another configuration
        run = runs / f"sst2-cnn-s{seed}"
        run.mkdir(parents=True)
        cfg = load_config(files, [f"train.seed={config_seed}", "train.progress=false"])
        (run / "config.yaml").write_text(dump_config(cfg))
        (run / "run.json").write_text(json.dumps({"status": "complete"}))
        (run / "metrics.json").write_text(json.dumps({"test": {"acc": 0.7}, "train_seconds": 2.0,
                                                      "test_docs_per_second": 4.0}))
    row = mod.run_one("sst2", "cnn", [13, 14, 15], out, [], resume=True, runs_dir=runs)
    assert trained == [15]
    assert row["seeds"] == [13, 14, 15]
    assert [m["acc"] for m in row["metrics_per_seed"]] == [0.9, 0.7, 0.5]


def test_run_baselines_resumes_a_preset_fusion_after_its_first_member(tmp_path: Path) -> None:
    """A fusion keeps no loop state of its own: a finished member is its checkpoint. A
    preset's run is resumed without comparing configs here (its config.yaml holds the model
    the preset chose; the runner checks it once the preset is resolved)."""
    from labelwise import load_config

    mod = _load("run_baselines")
    run = tmp_path / "run"
    (run / "members" / "0").mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"status": "training"}))
    (run / "config.yaml").write_text("model: {type: fusion}\n")
    preset = load_config(None, ["preset=best"])
    assert not mod._can_resume(run, preset)  # no member finished yet
    (run / "members" / "0" / "run.json").write_text(json.dumps({"status": "complete"}))
    assert mod._can_resume(run, preset)


def test_run_baselines_takes_shipped_config_files_as_systems() -> None:
    import argparse

    mod = _load("run_baselines")
    assert mod._system_arg("cnn") == "cnn"
    shipped = "configs/finetune/minilm-l3-short.yaml"
    assert mod._system_arg(shipped) == shipped
    assert mod.system_file(shipped) == ROOT / shipped
    with pytest.raises(argparse.ArgumentTypeError, match="configs/bench/systems"):
        mod._system_arg("configs/finetune/nope.yaml")


def test_data_efficiency_prints_the_pairs_asked_for(tmp_path: Path, capsys) -> None:
    pytest.importorskip("matplotlib")
    mod = _load("plot_data_efficiency")
    for name, values in {"ds__a.json": [0.5], "ds__b.json": [0.6], "ds__c.json": [0.8]}.items():
        (tmp_path / name).write_text(json.dumps(_row([13], values)))
    args = ["--dataset", "ds", "--systems", "a", "b", "c", "--metrics", "acc", "--results", str(tmp_path)]
    assert mod.main([*args, "--pairs", "a:c", "b:c"]) == 0
    out = capsys.readouterr().out
    assert "| 1 | +30.00 | 1 |" in out and "| 1 | +20.00 | 1 |" in out
    with pytest.raises(SystemExit):
        mod.main([*args, "--pairs", "a:d"])


def test_manifest_names_a_script_for_every_row_and_a_table_for_every_result() -> None:
    """Every row of benchmarks/manifest.yaml runs a script that exists, every topic has its
    notes, and every recorded result row is shown by some topic's table."""
    bench, md = _load("bench"), _load("make_results_md")
    topics = bench.load_manifest()
    assert {"baselines", "plant-eurlex", "tools"} <= set(topics)
    for name, topic in topics.items():
        assert (ROOT / "benchmarks" / "notes" / f"{name}.md").is_file()
        for row in topic["rows"]:
            if "run" in row:
                cmd = bench.row_command(row)
                assert (ROOT / cmd[1]).is_file()
    rows = md.load_rows()
    shown: set[str] = set()
    for topic in topics.values():
        shown |= md.topic_tables(topic["tables"], rows)[1]
    assert rows and set(rows) == shown


def test_manifest_rows_are_checked(tmp_path: Path) -> None:
    bench = _load("bench")
    bad = tmp_path / "manifest.yaml"
    bad.write_text("topics:\n  t:\n    title: T\n    tables: []\n    rows:\n"
                   "      - {name: a, run: x.py}\n      - {name: a, run: y.py}\n")
    with pytest.raises(ValueError, match="name of its own"):
        bench.load_manifest(bad)
    bad.write_text("topics:\n  t:\n    title: T\n    tables: []\n    rows:\n      - {name: a}\n")
    with pytest.raises(ValueError, match="one of 'run' or 'evaluate'"):
        bench.load_manifest(bad)
    with pytest.raises(ValueError, match="no script"):
        bench.row_command({"name": "a", "run": "no_such_script.py --x"})


def test_bench_dry_run_prints_the_rows_commands(capsys) -> None:
    bench = _load("bench")
    assert bench.main(["run", "plant-eurlex", "--row", "stateful-off", "--row", "linear", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "run_baselines.py --datasets eurlex57k --systems linear-l2svm --seeds 13" in out
    assert "labelwise evaluate runs/bench/eurlex57k-plant-stateful@c2frac0.05-s13" in out
    assert "--set model.chunk_pooling=max" in out
    with pytest.raises(SystemExit, match="no row"):
        bench.main(["run", "plant-eurlex", "--row", "nope", "--dry-run"])


def test_fewshot_split_gives_k_per_class_and_a_disjoint_validation_file(tmp_path: Path) -> None:
    import gzip

    spec = importlib.util.spec_from_file_location("fewshot", ROOT / "benchmarks" / "compare" / "fewshot.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    source = tmp_path / "data"
    (source / "toy").mkdir(parents=True)

    def write(split: str, rows: list[tuple[str, str]]) -> None:
        with gzip.open(source / "toy" / f"{split}.jsonl.gz", "wt") as fh:
            for text, label in rows:
                fh.write(json.dumps({"text": text, "labels": [label]}) + "\n")

    write("train", [(f"{lab} doc {i}", lab) for lab in ("a", "b") for i in range(20)])
    write("test", [("a test", "a")])

    def read(folder: Path, split: str) -> list[dict]:
        with gzip.open(folder / f"{split}.jsonl.gz", "rt") as fh:
            return [json.loads(line) for line in fh]

    folder = mod.make_split(source, "toy", 4, 13, tmp_path / "out")
    train, valid = read(folder, "train"), read(folder, "valid")
    for rows in (train, valid):  # no validation split: the validation file comes from the rest of train
        assert sorted(r["labels"][0] for r in rows) == ["a"] * 4 + ["b"] * 4
    assert not {r["text"] for r in train} & {r["text"] for r in valid}
    assert read(folder, "test") == [{"text": "a test", "labels": ["a"]}]
    larger = read(mod.make_split(source, "toy", 8, 13, tmp_path / "out"), "train")
    assert {r["text"] for r in train} <= {r["text"] for r in larger}


def test_label_scaling_data_keeps_each_documents_load_as_labels_grow() -> None:
    mod = _load("label_scaling")
    loads = []
    for labels in (200, 2_000):
        X, Y = mod.generate(labels, 500, 6.0, 5_000, seed=0)
        assert Y.shape == (500, labels) and X.shape == (500, 5_000)
        assert (Y.sum(axis=0) > 0).all()  # every label has a document
        loads.append((Y.nnz / 500, X.nnz / 500))
    # labels and features a document stay about the same when the label count grows 10x
    assert abs(loads[0][0] - loads[1][0]) < 1.0 and abs(loads[0][1] - loads[1][1]) < 3.0
    with pytest.raises(ValueError, match="--docs"):
        mod.generate(5_000, 500, 6.0, 5_000, seed=0)


def test_label_scaling_estimates_one_vs_rest_from_a_sample_of_labels(tmp_path: Path) -> None:
    mod = _load("label_scaling")
    args = mod.argparse.Namespace(docs=300, test_docs=50, labels_per_doc=3.0, features=2_000, ovr_sample=40,
                                  jobs=1, seed=0)
    full = mod.cell("ovr", 40, args)
    part = mod.cell("ovr", 400, args)
    assert not full["estimated"] and "p@1" in full
    assert part["estimated"] and part["fitted_labels"] == 40 and "p@1" not in part
    assert part["predict_ms_per_doc"] > 0 and not part.get("predict_estimated")
    mod.available_gib = lambda: 0.0  # no room for the repeated weights: the sample's time, scaled
    scaled = mod.cell("ovr", 400, args)
    assert scaled["predict_estimated"] and scaled["predict_ms_per_doc"] > 0
    tree = mod.cell("tree", 400, args)
    assert tree["p@1"] > 0.5 and tree["fit_seconds"] > 0
