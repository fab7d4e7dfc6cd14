"""The training loop: deterministic on CPU, resumes exactly, stops on a NaN loss,
and reads long documents in chunks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from labelwise import ConfigError, TextClassifier
from labelwise.training.loop import Trainer, TrainingError, checkpoint_files
from labelwise.types import Example

TEXTS = ["good great fine", "bad awful poor", "great good nice", "awful bad sad"] * 8
LABELS = ["pos", "neg", "pos", "neg"] * 8
CFG = {
    "model": {"encoder": {"name": "cnn", "embed_dim": 16, "num_filters": 8, "kernel_sizes": [2]}},
    "tokenizer": {"vocab_size": 120, "max_length": 16},
    "train": {"epochs": 3, "batch_size": 8, "lr": 0.01, "progress": False, "tensorboard": False,
              "patience": None},
}


def _examples() -> list[Example]:
    return [Example(t, (lab,)) for t, lab in zip(TEXTS, LABELS, strict=True)]


def test_two_runs_with_one_seed_are_identical() -> None:
    a = TextClassifier(CFG).fit(TEXTS, LABELS).predict_proba(TEXTS[:6])
    b = TextClassifier(CFG).fit(TEXTS, LABELS).predict_proba(TEXTS[:6])
    np.testing.assert_array_equal(a, b)


MLCL_CFG = {**CFG, "loss": {"name": "combined", "parts": [{"name": "ce"}, {"name": "mlcl", "weight": 0.5}]}}
ABALONE_CFG = {**CFG, "task": "multilabel", "loss": {"name": "combined", "parts": [
    {"name": "bce"}, {"name": "abalone", "weight": 0.5, "queue_size": 8, "momentum": 0.9}]}}


@pytest.mark.parametrize("cfg", [CFG, MLCL_CFG, ABALONE_CFG], ids=["ce", "ce+mlcl", "bce+abalone"])
def test_resume_after_interruption_matches_uninterrupted(tmp_path: Path, monkeypatch, cfg) -> None:
    """Also with a loss that owns parameters and state (MLCL's heads; ABALONE's prototypes,
    queue and momentum copy): they come back from loss_state.safetensors."""
    full = TextClassifier(cfg).fit_examples(_examples(), run_dir=str(tmp_path / "full"))  # a str will do
    expected = full.predict_proba(TEXTS[:6])

    original = Trainer._evaluate_and_save
    calls = {"n": 0}

    def crash_after_first(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original(self, *args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt  # as if the process died right after the first checkpoint

    monkeypatch.setattr(Trainer, "_evaluate_and_save", crash_after_first)
    with pytest.raises(KeyboardInterrupt):
        TextClassifier(cfg).fit_examples(_examples(), run_dir=tmp_path / "cut")
    assert ("loss_state" in checkpoint_files(tmp_path / "cut")) == (cfg is not CFG)
    monkeypatch.setattr(Trainer, "_evaluate_and_save", original)
    resumed = TextClassifier(cfg).fit_examples(_examples(), run_dir=tmp_path / "cut", resume=True)
    np.testing.assert_allclose(resumed.predict_proba(TEXTS[:6]), expected, atol=1e-6)
    # the last weights too: the best ones may predate the interruption
    a, b = (load_file(checkpoint_files(tmp_path / r)["last"]) for r in ("full", "cut"))
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_nan_loss_stops_with_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A loss that is NaN from the first step: the message says that no checkpoint exists
    (it used to say that the last good one was kept)."""
    import labelwise.training.loop as loop

    original = loop.forward_docs

    def poisoned(model, batch):
        out = original(model, batch)
        out.logits = out.logits * float("nan")
        return out

    monkeypatch.setattr(loop, "forward_docs", poisoned)
    with pytest.raises(TrainingError, match="at step 1; training stopped and no checkpoint had been written"):
        TextClassifier(CFG).fit_examples(_examples(), run_dir=tmp_path / "run")
    with pytest.raises(ConfigError, match="'train.lr': Input should be less than or equal to 10"):
        TextClassifier({**CFG, "train": {**CFG["train"], "lr": 1e30}}).fit(TEXTS, LABELS)


def test_nan_midway_keeps_the_last_good_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The loss turns NaN at step 9, after the checkpoints of steps 4 and 8: training stops
    naming step 9, and the run directory still holds step 8's readable checkpoint."""
    import json

    import labelwise.training.loop as loop

    calls = {"n": 0}
    original = loop.forward_docs

    def poisoned(model, batch):
        out = original(model, batch)
        calls["n"] += 1
        if calls["n"] >= 9:
            out.logits = out.logits * float("nan")
        return out

    monkeypatch.setattr(loop, "forward_docs", poisoned)
    cfg = {**CFG, "train": {**CFG["train"], "epochs": 5}}  # 4 steps per epoch
    with pytest.raises(TrainingError, match="at step 9; training stopped and the last checkpoint is kept"):
        TextClassifier(cfg).fit_examples(_examples(), run_dir=tmp_path / "run")
    state = json.loads((tmp_path / "run" / "trainer_state.json").read_text())
    assert state["step"] == 8
    files = checkpoint_files(tmp_path / "run")
    weights = load_file(files["last"])
    assert weights and all(torch.isfinite(t).all() for t in weights.values())


def test_long_documents_in_chunks() -> None:
    long_texts = [("filler " * 30) + t for t in TEXTS]
    cfg = {**CFG, "tokenizer": {"vocab_size": 120, "max_length": 12, "long_documents": "chunk",
                                "max_chunks": 6}}
    clf = TextClassifier(cfg).fit(long_texts, LABELS)
    # the label words sit beyond the first chunk: truncation alone could not see them
    assert clf.predict(long_texts[:4]) == LABELS[:4]


def test_contrastive_training_adds_a_projection_and_reloads(tmp_path: Path) -> None:
    """A loss with a supcon part gets a default projection head, trains on two views
    (the log has the supcon part) and the saved run reloads to the same predictions."""
    import json

    cfg = {**CFG, "train": {**CFG["train"], "log_every": 1},
           "loss": {"name": "combined", "parts": [{"name": "ce"}, {"name": "supcon", "weight": 0.3}]}}
    clf = TextClassifier(cfg).fit_examples(_examples(), run_dir=tmp_path / "run")
    model = clf.backend_.model
    assert model.projection is not None and model.spec["projection"]["dim"] == 128
    logged = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert any("supcon" in json.dumps(r) for r in logged), logged[:3]
    again = TextClassifier.load(tmp_path / "run")
    np.testing.assert_allclose(again.predict_proba(TEXTS[:6]), clf.predict_proba(TEXTS[:6]), atol=1e-6)


def test_frozen_encoder_features_are_cached_and_exact(monkeypatch) -> None:
    """A frozen MiniLM with a linear head runs the encoder once per document (not once per
    epoch), and the cached features are exactly what the full model computes."""
    import torch

    from labelwise.training import features

    calls = {"n": 0}
    original = features.encode_pooled

    def counting(*args, **kwargs):
        calls["n"] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(features, "encode_pooled", counting)
    import labelwise.backends.neural as backends

    monkeypatch.setattr(backends, "encode_pooled", counting)
    cfg = {**CFG, "tokenizer": {"kind": "minilm", "max_length": 16},
           "model": {"encoder": {"name": "pretrained", "freeze": True}, "head": {"name": "linear"}}}
    clf = TextClassifier(cfg).fit(TEXTS[:16], LABELS[:16])
    assert calls["n"] == 2  # train and validation, once each, whatever the number of epochs
    model = clf.backend_.model
    data = clf.backend_.encode(TEXTS[:5], None)
    cached = features.HeadOnFeatures(model.head, original(model, data, 4, torch.device("cpu")))
    from labelwise.training.dataset import predict_logits

    np.testing.assert_allclose(
        predict_logits(cached, features.feature_rows(data), 4, torch.device("cpu")),
        predict_logits(model, data, 4, torch.device("cpu")), atol=1e-5,
    )


def test_two_stage_pretraining_then_linear_probe(tmp_path: Path, monkeypatch) -> None:
    """pretrain: SupCon alone (checkpointed in <run>/pretrain), then a linear probe: the
    encoder leaves pre-training unchanged by fine-tuning, the head does not, and the probe
    trains on features encoded once (its cross-entropy leaves the projection unused)."""
    import labelwise.backends.neural as backends

    calls = {"n": 0}
    original = backends.encode_pooled

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(backends, "encode_pooled", counting)
    cfg = {**CFG, "pretrain": {"loss": {"name": "supcon"}, "epochs": 2},
           "train": {**CFG["train"], "freeze_encoder": True}}
    TextClassifier(cfg).fit_examples(_examples(), run_dir=tmp_path / "run")
    assert calls["n"] == 2  # train and validation, once each, over the probe's 3 epochs
    pre = load_file(checkpoint_files(tmp_path / "run" / "pretrain")["last"])
    final = load_file(tmp_path / "run" / "model.safetensors")
    enc = [k for k in final if k.startswith("encoder.")]
    assert enc and all(torch.equal(pre[k], final[k]) for k in enc)
    assert not torch.equal(pre["head.net.1.weight"], final["head.net.1.weight"])
    assert "projection.net.0.weight" in final  # the pre-training loss needed a projection
    import json

    assert json.loads((tmp_path / "run" / "pretrain" / "trainer_state.json").read_text())["step"] > 0


def test_crash_between_weights_and_state_resumes_exactly(tmp_path: Path, monkeypatch) -> None:
    """Killed after the new weights are written but before trainer_state.json names them:
    the old state must still find its own files, and resuming must match a full run."""
    import labelwise.training.loop as loop

    full = TextClassifier(CFG).fit_examples(_examples(), run_dir=tmp_path / "full")
    original, writes = loop.ckpt.write_json, {"n": 0}

    def dies_on_second_state(path, obj):  # type: ignore[no-untyped-def]
        if Path(path).name == "trainer_state.json":
            writes["n"] += 1
            if writes["n"] == 2:
                raise KeyboardInterrupt  # weights of the 2nd evaluation are on disk already
        return original(path, obj)

    monkeypatch.setattr(loop.ckpt, "write_json", dies_on_second_state)
    with pytest.raises(KeyboardInterrupt):
        TextClassifier(CFG).fit_examples(_examples(), run_dir=tmp_path / "cut")
    monkeypatch.setattr(loop.ckpt, "write_json", original)
    resumed = TextClassifier(CFG).fit_examples(_examples(), run_dir=tmp_path / "cut", resume=True)
    np.testing.assert_allclose(resumed.predict_proba(TEXTS[:6]), full.predict_proba(TEXTS[:6]), atol=1e-6)
    a, b = (load_file(checkpoint_files(tmp_path / r)["last"]) for r in ("full", "cut"))
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_eval_every_replaces_the_per_epoch_evaluations() -> None:
    default = TextClassifier(CFG).fit(TEXTS, LABELS).backend_.train_state  # type: ignore[union-attr]
    steps = [h["step"] for h in default["history"]]
    per_epoch, total = steps[0], steps[-1]
    assert steps == [per_epoch * (e + 1) for e in range(3)]  # one per epoch
    every = {**CFG, "train": {**CFG["train"], "eval_every": 5}}
    state = TextClassifier(every).fit(TEXTS, LABELS).backend_.train_state  # type: ignore[union-attr]
    expected = [*range(5, total + 1, 5)] + ([] if total % 5 == 0 else [total])
    assert [h["step"] for h in state["history"]] == expected
    assert [h["epoch"] for h in state["history"]][-1] == 3  # epochs still counted


def test_resumed_run_counts_the_earlier_time_and_keeps_its_config(tmp_path: Path, monkeypatch) -> None:
    """A run killed after a checkpoint keeps the loop's seconds so far in trainer_state.json;
    train_run(resume=True) reports them plus its own, and refuses another configuration."""
    import json

    from labelwise import load_config
    from labelwise.runner import train_run

    rows = "".join(json.dumps({"text": t, "labels": [lab]}) + "\n" for t, lab in zip(TEXTS, LABELS, strict=True))
    for split in ("train", "valid"):
        (tmp_path / f"{split}.jsonl").write_text(rows)
    overrides = [f"data.{s}={tmp_path / f'{s}.jsonl'}" for s in ("train", "valid")] + [
        "model.encoder.name=cnn", "model.encoder.embed_dim=16", "model.encoder.num_filters=8",
        "model.encoder.kernel_sizes=[2]", "tokenizer.vocab_size=120", "tokenizer.max_length=16",
        "train.epochs=3", "train.batch_size=8", "train.progress=false", "train.tensorboard=false"]
    cfg = load_config(None, overrides)
    original = Trainer._evaluate_and_save

    def crash_after_first(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original(self, *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "_evaluate_and_save", crash_after_first)
    with pytest.raises(KeyboardInterrupt):
        train_run(cfg, tmp_path / "run")
    saved = json.loads((tmp_path / "run" / "trainer_state.json").read_text())
    assert saved["step"] == 4 and saved["train_seconds"] > 0
    monkeypatch.setattr(Trainer, "_evaluate_and_save", original)
    other = load_config(None, [*overrides, "train.lr=0.5"])
    with pytest.raises(ValueError, match=r"train\.lr"):
        train_run(other, tmp_path / "run", resume=True)
    # a run saved by an older labelwise lacks keys added since: they take their defaults,
    # which is no change of configuration
    import yaml

    config_file = tmp_path / "run" / "config.yaml"
    older = yaml.safe_load(config_file.read_text())
    del older["data"]["text_column"], older["decode"]["abstain"]
    config_file.write_text(yaml.safe_dump(older))
    _, metrics, _ = train_run(load_config(None, [*overrides, "train.progress=true"]), tmp_path / "run",
                              resume=True)
    assert metrics["resumed"] is True
    assert metrics["train_seconds"] > saved["train_seconds"]
    assert json.loads((tmp_path / "run" / "trainer_state.json").read_text())["step"] == 12


def test_checkpoint_seconds_writes_fewer_checkpoints_and_keeps_the_best(tmp_path: Path, monkeypatch) -> None:
    """With train.checkpoint_seconds, evaluations between checkpoints are still made (and
    choose the best weights), and the last step is always checkpointed with those weights."""
    saves = {"n": 0}
    original = Trainer._save

    def counted(self):  # type: ignore[no-untyped-def]
        saves["n"] += 1
        return original(self)

    monkeypatch.setattr(Trainer, "_save", counted)
    cfg = {**CFG, "train": {**CFG["train"], "epochs": 4, "checkpoint_seconds": 3600}}
    clf = TextClassifier(cfg).fit_examples(_examples(), _examples()[:8], run_dir=tmp_path / "run")
    state = clf.backend_.train_state  # type: ignore[union-attr]
    assert len(state["history"]) == 4 and saves["n"] == 1  # four evaluations, one checkpoint
    files = checkpoint_files(tmp_path / "run")
    best, final = load_file(files["best"]), load_file(tmp_path / "run" / "model.safetensors")
    assert files["best"].name == f"best-{state['best_step']:09d}.safetensors"
    assert all(torch.equal(best[k], final[k]) for k in final if k in best)


def test_without_validation_the_best_checkpoint_is_the_last_file(tmp_path: Path) -> None:
    cfg = {**CFG, "pretrain": {"loss": {"name": "supcon"}, "epochs": 2},
           "train": {**CFG["train"], "freeze_encoder": True}}
    TextClassifier(cfg).fit_examples(_examples(), run_dir=tmp_path / "run")
    files = checkpoint_files(tmp_path / "run" / "pretrain")  # the stage has no validation
    assert files["best"] == files["last"]
    assert not list((tmp_path / "run" / "pretrain" / "checkpoints").glob("best-*"))
