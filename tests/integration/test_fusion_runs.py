"""model.type: fusion: members trained on the fusion's split (or loaded), weights chosen on
validation, one run directory that loads, predicts and resumes like any other."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from labelwise import ConfigError, TextClassifier, load_config
from labelwise.types import Example

WORDS = {"pos": ["good", "great", "fine", "nice"], "neg": ["bad", "awful", "poor", "sad"],
         "mid": ["plain", "okay", "so", "meh"]}


def _data(n: int = 60, seed: int = 0) -> list[Example]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        label = list(WORDS)[i % 3]
        words = list(rng.choice(WORDS[label], 3)) + list(rng.choice(sum(WORDS.values(), []), 2))
        out.append(Example(" ".join(words), (label,)))
    return out


CNN = {"tokenizer": {"vocab_size": 100, "max_length": 8, "min_frequency": 1},
       "model": {"encoder": {"name": "cnn", "embed_dim": 16, "num_filters": 8}},
       "train": {"epochs": 2, "batch_size": 8, "lr": 0.01, "progress": False, "tensorboard": False}}
LINEAR = {"model": {"type": "linear", "linear": {"loss": "squared_hinge"}}}
FUSION = {"model": {"type": "fusion", "fusion": {"members": [{"config": LINEAR}, {"config": CNN}],
                                                  "weight_step": 0.25}},
          "train": {"progress": False, "tensorboard": False}}


def test_fusion_trains_members_chooses_weights_and_loads(tmp_path: Path, capsys) -> None:
    train, valid = _data(60), _data(30, seed=1)
    run = tmp_path / "run"
    clf = TextClassifier(FUSION).fit_examples(train, valid, run_dir=str(run))
    assert "labelwise: fusion: weights " in capsys.readouterr().err  # it says what it chose
    state = json.loads((run / "fusion.json").read_text())
    assert state["members"] == ["members/0", "members/1"]
    assert abs(sum(state["weights"]) - 1) < 1e-9 and len(state["temperatures"]) == 2
    summary = clf.backend_.train_state
    # each member alone is on the grid, so the chosen mix is at least as good as the best
    assert summary["valid_accuracy"] >= max(summary["members_valid_accuracy"]) - 1e-12
    texts = [e.text for e in valid[:9]]
    again = TextClassifier.load(run)
    np.testing.assert_allclose(again.predict_proba(texts), clf.predict_proba(texts), atol=1e-6)
    assert again.predict(texts) == clf.predict(texts)
    # each member is a complete run of its own
    member = TextClassifier.load(run / "members" / "0")
    assert member.config_.model.type == "linear" and member.classes_ == clf.classes_


def test_a_trained_run_can_be_a_member_and_labels_follow_names(tmp_path: Path) -> None:
    train, valid = _data(60), _data(30, seed=1)
    TextClassifier({**LINEAR, "train": {"progress": False}}).fit_examples(train, valid, run_dir=tmp_path / "lin")
    cfg = {"model": {"type": "fusion", "fusion": {"members": [{"run": str(tmp_path / "lin")}, {"config": CNN}]}},
           "train": {"progress": False, "tensorboard": False}}
    clf = TextClassifier(cfg).fit_examples(train, valid, run_dir=tmp_path / "fused")
    scores = clf.predict_proba([e.text for e in valid])
    np.testing.assert_allclose(scores.sum(1), 1, atol=1e-5)
    # the fused run holds its own copy of the member
    assert TextClassifier.load(tmp_path / "fused" / "members" / "0").classes_ == clf.classes_


def test_multilabel_fusion_tunes_thresholds_on_the_fused_scores(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    def multi(n: int) -> list[Example]:
        out = []
        for _ in range(n):
            labels = sorted(set(rng.choice(list(WORDS), 2)))
            out.append(Example(" ".join(w for lab in labels for w in rng.choice(WORDS[lab], 2)), tuple(labels)))
        return out
    cfg = {**FUSION, "task": "multilabel"}
    clf = TextClassifier(cfg).fit_examples(multi(60), multi(30), run_dir=tmp_path / "run")
    assert clf.task_.value == "multilabel"
    pred = clf.predict(["good great bad awful"])
    assert isinstance(pred[0], list)


def test_an_interrupted_fusion_resumes_without_training_finished_members_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import labelwise.backends.fusion as fb

    train, valid = _data(60), _data(30, seed=1)
    calls: list[str] = []
    original = fb.fusion_member_config

    def second_fails(member, task, parent):
        calls.append(member.config["model"].get("type", "neural"))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(member, task, parent)

    monkeypatch.setattr(fb, "fusion_member_config", second_fails)
    with pytest.raises(KeyboardInterrupt):
        TextClassifier(FUSION).fit_examples(train, valid, run_dir=tmp_path / "run")
    monkeypatch.setattr(fb, "fusion_member_config", lambda m, t, p: (calls.append("again"), original(m, t, p))[1])
    calls.clear()
    TextClassifier(FUSION).fit_examples(train, valid, run_dir=tmp_path / "run", resume=True)
    assert calls == ["again"]  # the linear member was loaded, only the CNN trained


def test_fusion_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"model.fusion: 'members'.*at least 2"):
        load_config(None, values={"model": {"type": "fusion", "fusion": {"members": [{"config": LINEAR}]}}})
    with pytest.raises(ConfigError, match="exactly one of 'config'"):
        load_config(None, values={"model": {"type": "fusion", "fusion": {
            "members": [{"config": LINEAR, "run": "x"}, {"config": CNN}]}}})
    with pytest.raises(ConfigError, match=r"members\[1\].*lr"):
        load_config(None, values={"model": {"type": "fusion", "fusion": {
            "members": [{"config": LINEAR}, {"config": CNN, "set": ["train.lr=-1"]}]}}})


def test_train_run_resumes_a_fusion_that_has_no_loop_state(tmp_path: Path) -> None:
    """``labelwise train --resume`` (the runner) on a fusion cut after its first member."""
    import shutil

    from labelwise.runner import train_run

    for split, n, seed in (("train", 60, 0), ("valid", 30, 1), ("test", 15, 2)):
        rows = [json.dumps({"text": e.text, "labels": list(e.labels)}) for e in _data(n, seed)]
        (tmp_path / f"{split}.jsonl").write_text("\n".join(rows) + "\n")
    paths = {f"data.{s}": str(tmp_path / f"{s}.jsonl") for s in ("train", "valid", "test")}
    cfg = load_config(None, values={**FUSION, **paths})
    full, metrics, _ = train_run(cfg, tmp_path / "full")
    cut = tmp_path / "cut"
    shutil.copytree(tmp_path / "full", cut)
    for name in ("members/1", "fusion.json", "decode.json", "metrics.json"):
        shutil.rmtree(cut / name) if (cut / name).is_dir() else (cut / name).unlink()
    info = json.loads((cut / "run.json").read_text())
    (cut / "run.json").write_text(json.dumps({**info, "status": "training"}))
    kept = (cut / "members" / "0" / "run.json").stat().st_mtime_ns
    again, metrics_again, _ = train_run(cfg, cut, resume=True)
    assert (cut / "members" / "0" / "run.json").stat().st_mtime_ns == kept
    assert metrics_again["test"] == pytest.approx(metrics["test"])
    # the resumed fusion's time counts the member trained before the cut, as recorded
    first = json.loads((cut / "members" / "0" / "member_seconds.json").read_text())["train_seconds"]
    assert first > 0 and metrics_again["train_seconds"] >= first
    assert json.loads((cut / "decode.json").read_text())["train_state"]["member_seconds"][0] == pytest.approx(first)


def test_a_fusion_exports_to_one_onnx_predictor(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from labelwise.cli import main
    from labelwise.export import OnnxPredictor

    train, valid = _data(60), _data(30, seed=1)
    run = tmp_path / "run"
    clf = TextClassifier(FUSION).fit_examples(train, valid, run_dir=str(run))
    assert main(["export", str(run), "-o", str(tmp_path / "onnx"), "--quantize"]) == 0
    out = tmp_path / "onnx"
    info = json.loads((out / "export.json").read_text())
    assert info["kind"] == "fusion" and info["member_kinds"] == ["linear", "neural"]
    assert (out / "members/1/model.onnx").is_file() and (out / "members/0/linear.safetensors").is_file()
    texts = [e.text for e in valid]
    predictor = OnnxPredictor(out)
    np.testing.assert_allclose(predictor.predict_proba(texts), clf.predict_proba(texts), atol=1e-4)
    assert predictor.predict(texts) == clf.predict(texts) and predictor.classes_ == clf.classes_
    assert OnnxPredictor(out, quantized=True).predict_proba(texts).shape == (len(texts), 3)


def test_a_label_tree_member_fuses_exports_and_predicts_alike(tmp_path: Path) -> None:
    """A linear member fitted as a label tree (model.linear.tree; here an ensemble of two) in
    a multi-label fusion: the run and its export (the trees copied beside the ONNX graph)
    score alike."""
    pytest.importorskip("onnxruntime")
    from labelwise.export import OnnxPredictor, export_onnx

    rng = np.random.default_rng(3)
    names = [f"{w}{i}" for w in WORDS for i in range(3)]

    def multi(n: int) -> list[Example]:
        out = []
        for _ in range(n):
            labels = sorted(set(rng.choice(names, 2)))
            out.append(Example(" ".join(f"w{lab}" for lab in labels for _ in range(2)), tuple(labels)))
        return out

    tree = {"model": {"type": "linear", "linear": {"loss": "squared_hinge", "min_df": 1, "C": 1.0,
                                                   "tree": {"branching": 2, "leaf_size": 3, "beam": 2,
                                                            "trees": 2}}}}
    cfg = {**FUSION, "task": "multilabel",
           "model": {"type": "fusion", "fusion": {"members": [{"config": tree}, {"config": CNN}], "weight_step": 0.25}}}
    run = tmp_path / "run"
    clf = TextClassifier(cfg).fit_examples(multi(80), multi(30), run_dir=run)
    assert len(TextClassifier.load(run / "members" / "0").backend_.model.trees_) == 2
    export_onnx(run, tmp_path / "onnx")
    texts = [e.text for e in multi(12)]
    np.testing.assert_allclose(OnnxPredictor(tmp_path / "onnx").predict_proba(texts), clf.predict_proba(texts),
                               atol=1e-4)


def test_searches_inside_a_backend_report_only_their_choice(tmp_path: Path) -> None:
    """A tune pruner sees a fusion's chosen weights once, not every candidate of the grid
    (nor a linear member's C values)."""
    train, valid = _data(60), _data(30, seed=1)
    for cfg in (FUSION, {"model": {"type": "linear"}, "train": {"progress": False}}):
        seen: list[dict] = []
        TextClassifier(cfg).fit_examples(train, valid, observe=seen.append)
        assert len(seen) == 1 and "accuracy" in seen[0]
