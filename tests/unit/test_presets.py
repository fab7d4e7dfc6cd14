"""Presets choose a model by task kind and text length; a folder is a dataset; shipped
recipes load by name; a fusion's config members inherit its seed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from labelwise import TextClassifier, presets
from labelwise.cli import main
from labelwise.components import fusion_member_config, load_config
from labelwise.config import ConfigError
from labelwise.data.catalog import load_splits
from labelwise.data.errors import DataError
from labelwise.fusion import Member
from labelwise.presets import DataProfile, apply_preset, preset_tree
from labelwise.types import Example, Task

WORDS = {"sports": ["goal", "match", "team", "score"], "politics": ["vote", "senate", "law", "party"],
         "science": ["atom", "physics", "cell", "theory"]}


def _examples(n: int, words_per_doc: int = 6, multilabel: bool = False, seed: int = 0) -> list[Example]:
    rng = np.random.default_rng(seed)
    names = list(WORDS)
    out = []
    for i in range(n):
        labels = [names[i % 3]] + ([names[(i + 1) % 3]] if multilabel and i % 2 else [])
        words = [str(rng.choice(WORDS[lab])) for lab in labels for _ in range(words_per_doc // len(labels))]
        out.append(Example(" ".join(words), tuple(labels)))
    return out


def test_profile_reads_kind_size_and_length() -> None:
    short = DataProfile.of(_examples(30), Task.MULTICLASS)
    assert (short.num_train, short.num_labels, short.median_words) == (30, 3, 6.0) and short.short_texts
    assert not DataProfile.of(_examples(30, words_per_doc=300), Task.MULTICLASS).short_texts


def test_short_texts_are_those_of_median_at_most_forty_words() -> None:
    at, above = DataProfile(Task.MULTICLASS, 1000, 3, 40.0), DataProfile(Task.MULTICLASS, 1000, 3, 40.5)
    assert at.short_texts and not above.short_texts
    assert preset_tree("fast", at)["model"]["linear"]["C"] == 0.25
    assert preset_tree("fast", above)["model"]["linear"]["C"] == 1.0
    assert preset_tree("balanced", at)["model"]["fusion"]["members"][1]["config"] == "minilm-l3-short"
    assert preset_tree("balanced", above)["model"]["fusion"]["members"][1]["config"] == "minilm-l3-long"
    # the median of an even count is the mean of the middle two: 40 and 41 words -> 40.5, long
    assert not DataProfile.of(_examples(2, words_per_doc=40)[:1] + _examples(1, words_per_doc=41), Task.MULTICLASS
                              ).short_texts


def test_each_preset_by_task_kind_and_length() -> None:
    short = DataProfile(Task.MULTICLASS, 1000, 5, 12.0)
    long = DataProfile(Task.MULTILABEL, 1000, 5, 400.0)
    fast = preset_tree("fast", short)  # one fit: C by text length, not the grid's search
    assert fast == {"model": {"type": "linear", "linear": {"C": 0.25, "tol": presets.FAST_TOL}}}
    assert preset_tree("fast", long)["model"]["linear"] == {"C": 1.0, "tol": presets.FAST_TOL}
    assert "C = 0.25 (short texts)" in presets.describe("fast", short)
    balanced = preset_tree("balanced", short)["model"]
    assert balanced["type"] == "fusion"
    linear, neural = balanced["fusion"]["members"]
    assert linear["config"]["model"]["type"] == "linear"
    assert neural == {"config": "minilm-l3-short", "set": ["train.epochs=1"]}
    # long texts: MiniLM-L6 for about 1,000 steps, in whole epochs up to the recipe's 4
    best = preset_tree("best", long)
    assert best["model"]["fusion"]["members"][1] == {"config": "minilm-l6-long", "set": ["train.epochs=4"]}
    big = preset_tree("best", DataProfile(Task.MULTICLASS, 22_500, 2, 174.0))["model"]["fusion"]["members"][1]
    assert big == {"config": "minilm-l6-long", "set": ["train.epochs=1", "train.eval_every=469"]}
    mid = preset_tree("best", DataProfile(Task.MULTICLASS, 10_000, 20, 300.0))["model"]["fusion"]["members"][1]
    assert mid["set"] == ["train.epochs=2"]
    assert "MiniLM-L6 fine-tuned for 4 epochs (minilm-l6-long)" in presets.describe("best", long)
    # short texts: MiniLM-L6 for the best preset (measured on SST-2), L3 for balanced
    assert preset_tree("best", short)["model"]["fusion"]["members"][1] == {"config": "minilm-l6-short"}
    assert "MiniLM-L6 fine-tuned (minilm-l6-short)" in presets.describe("best", short)
    extreme = preset_tree("fast", DataProfile(Task.EXTREME, 1000, 4000, 300.0))
    assert extreme["model"]["linear"] == {"C": 1.0, "ngram_range": [1, 1], "tol": presets.FAST_TOL}  # one fit: labels cost minutes
    for name in ("balanced", "best"):  # extreme: the SVM fused with a bigram label tree, no network
        members = preset_tree(name, DataProfile(Task.EXTREME, 1000, 4000, 300.0))["model"]["fusion"]["members"]
        svm, tree = (m["config"]["model"] for m in members)
        assert svm["linear"] == {"C": 1.0, "ngram_range": [1, 1]} and tree["linear"]["tree"] is not None
        assert tree["linear"]["ngram_range"] == [1, 2]
        assert "label tree" in presets.describe(name, DataProfile(Task.EXTREME, 1000, 4000, 300.0))
    hier = preset_tree("best", DataProfile(Task.HIERARCHICAL, 1000, 5, 12.0))
    assert hier["model"]["encoder"]["model"] == "minilm-l6"  # the neural model alone: no fusion
    assert hier["tokenizer"]["kind"] == "auto" and hier["train"]["lr"] > 0
    with pytest.raises(ValueError, match="unknown preset 'quick'"):
        preset_tree("quick", short)
    for name in presets.PRESETS:  # every choice is a config the registries accept
        for profile in (short, long, DataProfile(Task.EXTREME, 1000, 4000, 300.0)):
            cfg = load_config(None, [f"preset={name}"])
            assert apply_preset(cfg, profile).preset is None


def test_balanced_and_best_are_few_shot_on_small_multiclass_data() -> None:
    small = DataProfile(Task.MULTICLASS, 40, 3, 8.0)
    for name in ("balanced", "best"):
        tree = preset_tree(name, small)
        assert tree["model"]["encoder"]["model"] == "minilm-l6" and tree["pretrain"]["loss"]["name"] == "supcon"
        assert tree["train"]["freeze_encoder"] is True
        assert "few-shot" in presets.describe(name, small)
    assert preset_tree("fast", small)["model"]["type"] == "linear"
    assert preset_tree("balanced", DataProfile(Task.MULTICLASS, 64 * 3 + 1, 3, 8.0))["model"]["type"] == "fusion"
    assert preset_tree("balanced", DataProfile(Task.MULTILABEL, 40, 3, 8.0))["model"]["type"] == "fusion"
    resolved = apply_preset(load_config(None, ["preset=best"]), small)
    assert resolved.pretrain is not None and resolved.pretrain.epochs == 20 and resolved.preset is None
    with pytest.raises(ConfigError, match="drop the pretrain section"):
        apply_preset(load_config(None, ["preset=best", "pretrain={epochs: 2, loss: {name: supcon}}"]), small)


def test_multilabel_fusions_tune_a_threshold_per_label_unless_the_config_says_otherwise() -> None:
    multilabel, multiclass = DataProfile(Task.MULTILABEL, 1000, 5, 12.0), DataProfile(Task.MULTICLASS, 1000, 5, 12.0)
    for name in ("balanced", "best"):
        assert preset_tree(name, multilabel)["decode"] == {"tune_threshold": "per_label"}
        assert "decode" not in preset_tree(name, multiclass)
        assert "a threshold per label" in presets.describe(name, multilabel)
        assert apply_preset(load_config(None, [f"preset={name}"]), multilabel).decode.tune_threshold == "per_label"
        explicit = load_config(None, [f"preset={name}", "decode.tune_threshold=global"])
        assert apply_preset(explicit, multilabel).decode.tune_threshold == "global"  # the config wins
    assert "decode" not in preset_tree("fast", multilabel)  # the linear model alone keeps one threshold
    assert "decode" not in preset_tree("best", DataProfile(Task.EXTREME, 1000, 4000, 300.0))


def test_a_preset_refuses_a_model_section_and_keeps_the_rest() -> None:
    profile = DataProfile(Task.MULTILABEL, 100, 3, 6.0)
    with pytest.raises(ConfigError, match="preset 'fast' chooses the model"):
        apply_preset(load_config(None, ["preset=fast", "model.encoder.name=bilstm"]), profile)
    kept = apply_preset(load_config(None, ["preset=fast", "decode.tune_threshold=per_label"]), profile)
    assert kept.decode.tune_threshold == "per_label" and kept.model.type == "linear"


def test_fast_preset_through_the_api() -> None:
    train = _examples(60)
    clf = TextClassifier(preset="fast").fit_examples(train)
    assert clf.config_.preset is None and clf.config_.model.type == "linear"
    assert clf.preset_ is not None and clf.preset_.startswith("preset fast (multiclass, ")
    assert clf.predict(["goal match team"]) == ["sports"]


def test_balanced_preset_fuses_the_linear_model_with_a_network(monkeypatch) -> None:
    tiny = ["model.encoder={name: cnn, embed_dim: 8, num_filters: 4, kernel_sizes: [2]}",
            "tokenizer.vocab_size=100", "train.epochs=2", "train.progress=false", "train.tensorboard=false"]
    monkeypatch.setattr(presets, "_neural", lambda name, profile: {"config": {}, "set": tiny})
    monkeypatch.setattr(presets, "SMALL_PER_CLASS", 10)  # 60 texts in 3 classes: not few-shot
    clf = TextClassifier(preset="balanced", train__seed=5).fit_examples(_examples(60))
    assert clf.config_.model.type == "fusion"
    members = clf.backend_.members
    assert [m.config_.model.type for m in members] == ["linear", "neural"]
    assert members[1].config_.train.seed == 5  # the member took the fusion's seed


def _folder(root: Path, name: str, splits: dict[str, list[Example]], suffix: str = ".jsonl") -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    for split, rows in splits.items():
        (folder / f"{split}{suffix}").write_text(
            "".join(json.dumps({"text": e.text, "labels": list(e.labels)}) + "\n" for e in rows))
    return folder


def test_any_folder_with_train_and_test_is_a_dataset(tmp_path: Path, capsys) -> None:
    folder = _folder(tmp_path, "mine", {"train": _examples(60), "test": _examples(12, seed=1)})
    splits = load_splits("mine", tmp_path)
    assert (splits.train, splits.test, splits.valid) == (folder / "train.jsonl", folder / "test.jsonl", None)
    run = tmp_path / "run"
    assert main(["train", "--preset", "fast", "-d", "mine", "--data-dir", str(tmp_path), "-o", str(run),
                 "--set", "train.progress=false"]) == 0
    err = capsys.readouterr().err
    assert "preset fast (multiclass, 60 training texts, 3 labels" in err
    assert main(["data", "show", "mine", "--data-dir", str(tmp_path)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert {k: v["docs"] for k, v in shown["splits"].items()} == {"train": 60, "test": 12}
    assert shown["label_stats"]["labels"] == 3
    saved = load_config(run / "config.yaml")
    assert saved.preset is None and saved.model.type == "linear"
    assert main(["train", "-o", str(run), "--resume", "--preset", "fast", "-d", "mine",
                 "--data-dir", str(tmp_path)]) == 2  # complete: nothing to resume, said clearly
    assert "is complete" in capsys.readouterr().err


def test_folder_dataset_errors_name_the_fix(tmp_path: Path) -> None:
    _folder(tmp_path, "half", {"train": _examples(6)})
    with pytest.raises(DataError, match="has no test file") as err:
        load_splits("half", tmp_path)
    assert "test.jsonl" in str(err.value)
    _folder(tmp_path, "twice", {"train": _examples(6), "test": _examples(6)})
    (tmp_path / "twice" / "train.csv").write_text("text,labels\na,b\n")
    with pytest.raises(DataError, match="2 train files"):
        load_splits("twice", tmp_path)
    with pytest.raises(DataError, match="make a folder nothing/"):
        load_splits("nothing", tmp_path)


def test_recipes_load_by_name() -> None:
    cfg = load_config(["minilm-l3-short"], ["data.dataset=sst2"])
    assert cfg.model.encoder["model"] == "minilm-l3" and cfg.tokenizer.max_length == 64
    # the repository's configs/finetune/ files are the shipped recipes themselves
    root = Path(__file__).resolve().parents[2]
    assert load_config(root / "configs/finetune/minilm-l3-long.yaml") == load_config("minilm-l3-long")
    with pytest.raises(ConfigError, match=r"neither a file nor a shipped recipe \(fewshot-minilm-l6, minilm-l3-long"):
        load_config("minilm-l9")


def test_config_members_inherit_the_fusions_seed_unless_they_set_one() -> None:
    parent = load_config(None, ["train.seed=7", "train.progress=false"])
    plain = fusion_member_config(Member(config={"model": {"type": "linear"}}), "multiclass", parent)
    assert (plain.train.seed, plain.train.progress) == (7, False)
    own = fusion_member_config(Member(config={"train": {"seed": 3}}), "multiclass", parent)
    assert own.train.seed == 3
