from __future__ import annotations

from pathlib import Path

import pytest

from labelwise import load_config
from labelwise.config import Config, ConfigError, apply_override
from labelwise.config.files import read_config


def test_defaults_validate() -> None:
    cfg = load_config()
    assert cfg.model.encoder["name"] == "cnn" and cfg.train.epochs >= 1


def test_overrides_are_yaml_typed() -> None:
    cfg = load_config(None, ["train.lr=3e-4", "model.encoder={name: bilstm, hidden_dim: 32}",
                             "metrics=[accuracy, macro_f1]", "data.dataset=sst2"])
    assert cfg.train.lr == pytest.approx(3e-4)
    assert cfg.model.encoder == {"name": "bilstm", "hidden_dim": 32}
    assert cfg.metrics == ["accuracy", "macro_f1"]


def test_nested_component_override_keeps_default_name() -> None:
    cfg = load_config(None, ["model.encoder.embed_dim=32"])
    assert cfg.model.encoder == {"name": "cnn", "embed_dim": 32}


@pytest.mark.parametrize("override,needle", [
    ("train.epoch=3", "did you mean 'epochs'"),
    ("trian.lr=1", "did you mean 'train'"),
    ("train.lr=abc", "train.lr"),
    ("decode.tune_threshold=sometimes", "tune_threshold"),
    ("model.encoder.n_layer=3", "n_layer"),
    ("loss={name: bcee}", "bce"),
    ("noequals", "key=value"),
])
def test_errors_name_the_key(override: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=None) as info:
        load_config(None, [override])
    assert needle.lower() in str(info.value).lower()


def test_yaml_unknown_key_and_merge(tmp_path: Path) -> None:
    a = tmp_path / "a.yaml"
    a.write_text("train: {epochs: 2, lr: 0.1}\nmodel: {encoder: {name: cnn}}\n")
    b = tmp_path / "b.yaml"
    b.write_text("train: {lr: 0.01}\n")
    cfg = load_config([a, b])
    assert (cfg.train.epochs, cfg.train.lr) == (2, 0.01)
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: {epochs: 2}\nmodle: {}\n")
    with pytest.raises(ConfigError, match="modle") as info:
        load_config(bad)
    assert "bad.yaml" in str(info.value)
    lst = tmp_path / "list.yaml"
    lst.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(lst)


def test_refuses_python_paths_as_components() -> None:
    with pytest.raises(ConfigError, match="unknown encoder"):
        load_config(None, ["model.encoder={name: os.system}"])


def test_apply_override_on_empty_tree() -> None:
    tree: dict = {}
    apply_override(tree, "train.seed=7")
    assert Config.model_validate(tree).train.seed == 7


def test_new_component_name_drops_old_parameters(tmp_path: Path) -> None:
    cfg = load_config(None, ["model.encoder={name: cnn, num_filters: 8}", "model.encoder.name=bilstm"])
    assert cfg.model.encoder == {"name": "bilstm"}
    a = tmp_path / "a.yaml"
    a.write_text("model: {encoder: {name: cnn, num_filters: 8}}\n")
    b = tmp_path / "b.yaml"
    b.write_text("model: {encoder: {name: bilstm, hidden_dim: 16}}\n")
    assert load_config([a, b]).model.encoder == {"name": "bilstm", "hidden_dim": 16}
    c = tmp_path / "c.yaml"
    c.write_text("model: {encoder: {dropout: 0.1}}\n")
    assert load_config([a, c]).model.encoder == {"name": "cnn", "num_filters": 8, "dropout": 0.1}


def test_metric_names_checked_at_load() -> None:
    with pytest.raises(ConfigError, match="p@5"):
        load_config(None, ["metrics=[micro_f1, pp@5]"])
    with pytest.raises(ConfigError, match="primary_metric"):
        load_config(None, ["metrics=[micro_f1]", "train.primary_metric=macro_f1"])
    with pytest.raises(ConfigError, match="bce"):
        load_config(None, ["loss={name: combined, parts: [{name: bcee}]}"])


REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", sorted((REPO / "docs" / "examples").glob("*.yaml"))
                         + sorted((REPO / "configs").glob("*.yaml"))
                         + sorted((REPO / "configs" / "finetune").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_load(path: Path) -> None:
    load_config([path], [])


@pytest.mark.parametrize("system", sorted((REPO / "configs" / "bench" / "systems").glob("*.yaml")),
                         ids=lambda p: p.stem)
def test_benchmark_systems_compose_with_every_dataset(system: Path) -> None:
    for dataset in sorted((REPO / "configs" / "bench" / "datasets").glob("*.yaml")):
        load_config([dataset, system], [])


def test_max_valid_caps_the_validation_split_only(tmp_path: Path) -> None:
    import json

    from labelwise.runner import load_run_data

    for split, n in (("train", 6), ("valid", 10), ("test", 10)):
        rows = [json.dumps({"text": f"{split} doc {i}", "labels": ["a" if i % 2 else "b"]}) for i in range(n)]
        (tmp_path / f"{split}.jsonl").write_text("\n".join(rows) + "\n")
    paths = [f"data.{s}={tmp_path / f'{s}.jsonl'}" for s in ("train", "valid", "test")]
    data = load_run_data(load_config(None, [*paths, "data.max_valid=3"]))
    assert data.valid is not None and data.test is not None
    assert (len(data.valid), len(data.test)) == (3, 10)
    data = load_run_data(load_config(None, [*paths, "data.max_valid=8", "data.max_eval=4"]))
    assert data.valid is not None and data.test is not None
    assert (len(data.valid), len(data.test)) == (4, 4)  # the smaller cap wins
    # no validation file: the part held out of a cut training set takes the same caps
    (tmp_path / "big.jsonl").write_text("".join(json.dumps({"text": f"doc {i}", "labels": ["a" if i % 2 else "b"]})
                                                + "\n" for i in range(100)))
    data = load_run_data(load_config(None, [f"data.train={tmp_path / 'big.jsonl'}", "data.max_train=20",
                                            "data.max_valid=5"]))
    assert data.valid is not None and (len(data.train), len(data.valid)) == (20, 5)


def test_training_fraction_keeps_the_whole_label_space(tmp_path: Path) -> None:
    """A run on part of the training set keeps every label of the data (count 0 where the
    part has none) and reports label groups by the whole training set's counts."""
    import json

    from labelwise.runner import evaluate_run, load_run_data, read_group_counts, train_run

    words = ["apple", "river", "stone", "cloud"]
    rows = {"train": [], "valid": [], "test": []}
    for split, n in (("train", 60), ("valid", 12), ("test", 12)):
        for i in range(n):
            labels = ["common"] + (["rare"] if i % 6 == 0 else [])
            rows[split].append({"text": f"{words[i % 4]} {'rare' if 'rare' in labels else ''} {i}", "labels": labels})
    for split, docs in rows.items():
        (tmp_path / f"{split}.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    paths = [f"data.{s}={tmp_path / f'{s}.jsonl'}" for s in ("train", "valid", "test")]
    # find a seed whose 3 of the 60 training documents have no 'rare' one
    for seed in range(50):
        cfg = load_config(None, [*paths, "data.max_train=3", f"train.seed={seed}", "model.type=linear",
                                 "task=multilabel", "metrics=[p@1,fewshot_p@1,frequent_p@1]"])
        data = load_run_data(cfg)
        if all("rare" not in e.labels for e in data.train):
            break
    assert data.full_train_counts == {"common": 60, "rare": 10}
    clf, metrics, _ = train_run(cfg, tmp_path / "run")
    assert clf.classes_ == ["common", "rare"]
    assert list(clf.labels_.train_counts) == [3, 0]
    # by the run's own counts both labels would be few-shot (3 and 0 documents) and
    # 'frequent' empty (NaN); by the whole training set 'common' (60) is frequent
    assert metrics["test"]["frequent_p@1"] == metrics["test"]["frequent_p@1"]  # not NaN
    assert metrics["test"]["fewshot_p@1"] == metrics["test"]["fewshot_p@1"]
    # `labelwise evaluate` on the saved run groups the labels the same way
    again = evaluate_run(tmp_path / "run", tmp_path / "test.jsonl", "test", None)
    for name in ("p@1", "frequent_p@1", "fewshot_p@1"):
        assert again[name] == pytest.approx(metrics["test"][name])
    assert read_group_counts(tmp_path / "run") == {"common": 60, "rare": 10}


def test_training_fraction_holds_validation_out_of_the_whole_set(tmp_path: Path) -> None:
    """Without a validation split, a run on part of the data validates on a tenth of the
    whole training set (the same documents at every fraction), never on its own part."""
    import json

    from labelwise.runner import load_run_data

    rows = [json.dumps({"text": f"doc {i}", "labels": ["a" if i % 2 else "b"]}) for i in range(200)]
    (tmp_path / "train.jsonl").write_text("\n".join(rows) + "\n")
    base = [f"data.train={tmp_path / 'train.jsonl'}", "train.seed=5"]
    small = load_run_data(load_config(None, [*base, "data.train_fraction=0.05"]))
    large = load_run_data(load_config(None, [*base, "data.train_fraction=0.5"]))
    assert small.valid is not None and large.valid is not None
    assert len(small.valid) == len(large.valid) == 20
    assert [e.text for e in small.valid] == [e.text for e in large.valid]
    assert len(small.train) == 9 and len(large.train) == 90  # fractions of the other 180
    assert not {e.text for e in small.valid} & {e.text for e in large.train}
    assert load_run_data(load_config(None, base)).valid is None  # whole set: the model carves


def _alias_bomb(levels: int) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    lines.append("metrics: [" + ", ".join([f"*a{levels - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.timeout(60)
def test_alias_expansion_is_bounded(tmp_path: Path) -> None:
    """A 1 KB file of aliases nested nine deep (9^10 values) is refused before it expands."""
    path = tmp_path / "bomb.yaml"
    path.write_text(_alias_bomb(9))
    assert path.stat().st_size < 1500
    with pytest.raises(ConfigError, match="bomb.yaml: the YAML expands to over") as err:
        read_config(path)
    assert len(str(err.value)) < 500


def test_self_referring_alias_and_huge_files_are_refused(tmp_path: Path) -> None:
    cyc = tmp_path / "cyc.yaml"
    cyc.write_text("train: &x\n  foo: *x\n")
    with pytest.raises(ConfigError, match=r"cyc.yaml:1: a YAML alias refers to a value that contains it"):
        read_config(cyc)
    big = tmp_path / "big.yaml"
    big.write_text("# padding\n" * 200_000)
    with pytest.raises(ConfigError, match="big.yaml: 2,000,000 bytes"):
        read_config(big)
    deep = tmp_path / "deep.yaml"
    deep.write_text("metrics: " + "[" * 20_000 + "]" * 20_000 + "\n")
    with pytest.raises(ConfigError, match="deep.yaml"):
        read_config(deep)


def test_aliases_and_merge_keys_still_work(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("train: &t {epochs: 3, lr: 0.01}\ndecode: {top_k: 4}\n")
    cfg = read_config(path, ["train.batch_size=8"])
    assert cfg.train.epochs == 3 and cfg.train.batch_size == 8


def test_error_messages_are_bounded(tmp_path: Path) -> None:
    """10,000 bad values give a message of a few lines, each input shown short."""
    path = tmp_path / "many.yaml"
    path.write_text("metrics: [" + ", ".join(["[" + "x" * 50 + "]"] * 10_000) + "]\n")
    with pytest.raises(ConfigError) as err:
        read_config(path)
    message = str(err.value)
    assert len(message) < 4000 and "and 9980 more" in message
