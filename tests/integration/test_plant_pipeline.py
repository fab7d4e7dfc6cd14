"""PLANT end to end: the MIG/L2R stage before training, planted buffers saved and reloaded,
resuming without redoing the stage, the config checks, and stateful pooling of chunks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import labelwise.plant.pipeline as pipeline
from labelwise import TextClassifier, load_config
from labelwise.config import ConfigError
from labelwise.models.heads.plant import PlantHead
from labelwise.models.stateful import stateful_pool
from labelwise.training.dataset import (
    ChunkPooling,
    chunk_pooling_of,
    pool_chunk_logits,
    set_chunk_pooling,
)
from labelwise.training.loop import Trainer
from labelwise.types import Example

NUM_LABELS = 12


def _data(n: int = 40, seed: int = 0) -> tuple[list[str], list[list[str]]]:
    """Documents of 1-2 labels: two of each label's three words, plus shared filler."""
    rng = np.random.default_rng(seed)
    words = [[f"w{lab}a", f"w{lab}b", f"w{lab}c"] for lab in range(NUM_LABELS)]
    filler = [f"f{i}" for i in range(15)]
    texts, labels = [], []
    for i in range(n):
        labs = sorted({i % NUM_LABELS, *rng.choice(NUM_LABELS, size=rng.integers(0, 2)).tolist()})
        toks = [w for lab in labs for w in rng.choice(words[lab], 2, replace=False).tolist()]
        toks += rng.choice(filler, 5).tolist()
        rng.shuffle(toks)
        texts.append(" ".join(toks))
        labels.append([f"L{lab}" for lab in labs])
    return texts, labels


TEXTS, LABELS = _data()
CFG: dict[str, Any] = {
    "task": "multilabel",
    "model": {
        "encoder": {"name": "cnn", "embed_dim": 16, "num_filters": 8, "kernel_sizes": [2]},
        "head": {"name": "plant", "attn_dim": 8, "factor_dim": 8, "inattention_k": 3,
                 "label_chunk_size": 5},
    },
    "plant": {"factor_dim": 8, "top_n": 10, "l2r_epochs": 3},
    "tokenizer": {"vocab_size": 150, "min_frequency": 1, "max_length": 16},
    "train": {"epochs": 3, "batch_size": 8, "lr": 0.01, "progress": False, "tensorboard": False,
              "patience": None},
}
# long enough for 2-3 chunks of 6 tokens each ([CLS] and [SEP] take two of the 8)
CHUNKED: dict[str, Any] = {
    **CFG,
    "tokenizer": {**CFG["tokenizer"], "max_length": 8, "long_documents": "chunk", "max_chunks": 4},
    "model": {**CFG["model"], "chunk_pooling": "stateful", "stateful_k": 3, "stateful_gamma": 1.0},
}


def _examples() -> list[Example]:
    return [Example(t, tuple(lab)) for t, lab in zip(TEXTS, LABELS, strict=True)]


def _head(clf: TextClassifier) -> PlantHead:
    head = clf.backend_.model.head  # type: ignore[union-attr]
    assert isinstance(head, PlantHead)
    return head


def _count_calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count the MIG and L2R computations of the pipeline."""
    calls = {"mig": 0, "l2r": 0}
    mig, l2r = pipeline.compute_mig, pipeline.train_l2r

    def counting_mig(*args: Any, **kwargs: Any) -> Any:
        calls["mig"] += 1
        return mig(*args, **kwargs)

    def counting_l2r(*args: Any, **kwargs: Any) -> Any:
        calls["l2r"] += 1
        return l2r(*args, **kwargs)

    monkeypatch.setattr(pipeline, "compute_mig", counting_mig)
    monkeypatch.setattr(pipeline, "train_l2r", counting_l2r)
    return calls


def test_plant_run_writes_the_stage_and_reloads_without_recomputing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_calls(monkeypatch)
    run = tmp_path / "run"
    clf = TextClassifier(CFG).fit_examples(_examples(), run_dir=run)
    assert calls == {"mig": 1, "l2r": 1}

    # the stage's outputs, in their own formats
    assert (run / "plant" / "mig" / "mig.safetensors").is_file()
    assert (run / "plant" / "l2r" / "l2r.safetensors").is_file()
    stage = json.loads((run / "plant" / "stage.json").read_text())
    assert set(stage["steps"]) >= {"occurrence", "mig", "l2r", "plant"}
    assert all(s["seconds"] >= 0 and s["max_rss_mb"] > 0 for s in stage["steps"].values())
    assert stage["num_labels"] == NUM_LABELS and stage["mig"]["labels_with_tokens"] == NUM_LABELS
    assert 0.0 <= stage["l2r"]["heldout_ndcg"] <= 1.0 and stage["l2r"]["k"] == 10
    table, l2r, _ = pipeline.load_stage(run)
    assert table.num_labels == NUM_LABELS and table.row_lengths().max() <= 10

    # the head is planted, with the tokenizer's vocabulary, and the L2R factors
    head = _head(clf)
    tokenizer = clf.backend_.tokenizer  # type: ignore[union-attr]
    assert head.is_planted and head.config.vocab_size == tokenizer.vocab_size
    assert head.planted_token_factors.abs().sum() > 0
    assert torch.equal(head.planted_label_factors, l2r.label_factors.detach())
    # special tokens are no MIG evidence
    assert not set(pipeline.special_token_ids(tokenizer)) & set(table.tokens.tolist())

    # config.yaml holds the config's head fields (vocab_size comes from the tokenizer)
    saved = load_config(run / "config.yaml")
    assert "vocab_size" not in saved.model.head and saved.model.head["factor_dim"] == 8

    # reloading: same predictions, buffers from model.safetensors, no MIG/L2R rerun
    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("loading a run must not recompute the PLANT stage")

    monkeypatch.setattr(pipeline, "compute_mig", forbidden)
    monkeypatch.setattr(pipeline, "train_l2r", forbidden)
    again = TextClassifier.load(run)
    np.testing.assert_array_equal(again.predict_proba(TEXTS[:8]), clf.predict_proba(TEXTS[:8]))
    assert torch.equal(_head(again).planted_token_factors, head.planted_token_factors)
    decode = json.loads((run / "decode.json").read_text())
    assert decode["train_state"]["plant"]["reused"] is False


def test_multiclass_plant_run_uses_one_hot_targets() -> None:
    labels = [lab[0] for lab in LABELS]
    clf = TextClassifier({**CFG, "task": "multiclass"}).fit(TEXTS, labels)
    stage = clf.backend_.plant_state  # type: ignore[union-attr]
    assert stage["num_labels"] == len(set(labels)) and stage["mig"]["nnz"] > 0
    assert _head(clf).is_planted
    assert np.allclose(clf.predict_proba(TEXTS[:4]).sum(1), 1.0, atol=1e-5)


def test_factor_dim_is_filled_from_either_side_and_checked() -> None:
    head = {"name": "plant", "attn_dim": 8}
    cfg = load_config(None, [f"model.head={json.dumps(head)}", "plant.factor_dim=16"])
    assert cfg.model.head["factor_dim"] == 16
    cfg = load_config(None, [f"model.head={json.dumps({**head, 'factor_dim': 12})}", "plant.top_n=5"])
    assert cfg.plant is not None and cfg.plant.factor_dim == 12
    with pytest.raises(ConfigError, match=r"plant.factor_dim \(16\) and model.head.factor_dim \(12\)"):
        load_config(None, [f"model.head={json.dumps({**head, 'factor_dim': 12})}",
                           "plant.factor_dim=16"])


def test_plant_section_without_the_plant_head_is_an_error() -> None:
    cfg = {**CFG, "model": {**CFG["model"], "head": {"name": "labelwise_attention"}}}
    with pytest.raises(ConfigError, match="model.head.name: plant"):
        TextClassifier(cfg).fit(TEXTS, LABELS)
    with pytest.raises(ConfigError, match="plant=null"):
        load_config(None, ["plant.top_n=5"])
    # removing the section is enough
    assert load_config(None, ["plant.top_n=5", "plant=null"]).plant is None


def test_resume_after_interruption_does_not_redo_the_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = TextClassifier(CFG).fit_examples(_examples(), run_dir=tmp_path / "full")
    expected = full.predict_proba(TEXTS[:8])

    original = Trainer._evaluate_and_save
    cuts = {"n": 0}

    def crash_after_first(self: Trainer, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        cuts["n"] += 1
        if cuts["n"] == 1:
            raise KeyboardInterrupt  # as if the process died right after the first checkpoint

    monkeypatch.setattr(Trainer, "_evaluate_and_save", crash_after_first)
    with pytest.raises(KeyboardInterrupt):
        TextClassifier(CFG).fit_examples(_examples(), run_dir=tmp_path / "cut")
    assert (tmp_path / "cut" / "plant" / "stage.json").is_file()
    monkeypatch.setattr(Trainer, "_evaluate_and_save", original)

    calls = _count_calls(monkeypatch)
    resumed = TextClassifier(CFG).fit_examples(_examples(), run_dir=tmp_path / "cut", resume=True)
    assert calls == {"mig": 0, "l2r": 0}
    assert resumed.backend_.plant_state["reused"] is True  # type: ignore[union-attr]
    np.testing.assert_allclose(resumed.predict_proba(TEXTS[:8]), expected, atol=1e-6)
    assert torch.equal(_head(resumed).planted_token_factors, _head(full).planted_token_factors)


def test_chunked_plant_run_with_stateful_pooling_trains_and_predicts(tmp_path: Path) -> None:
    clf = TextClassifier(CHUNKED).fit_examples(_examples(), run_dir=tmp_path / "run")
    model = clf.backend_.model
    assert model is not None
    assert chunk_pooling_of(model) == ChunkPooling("stateful", 3, 1.0)
    docs = clf.backend_.encode(TEXTS, None).docs  # type: ignore[union-attr]
    assert max(len(d) for d in docs) >= 2  # really chunked
    assert _head(clf).is_planted
    proba = clf.predict_proba(TEXTS)
    assert proba.shape == (len(TEXTS), NUM_LABELS) and np.isfinite(proba).all()
    assert len(clf.predict(TEXTS[:3])) == 3
    # the pooling comes back from config.yaml on load
    again = TextClassifier.load(tmp_path / "run")
    np.testing.assert_array_equal(again.predict_proba(TEXTS[:8]), proba[:8])
    # and it is not max pooling: the carried state adds to the scores
    set_chunk_pooling(model, ChunkPooling())
    assert not np.allclose(clf.predict_proba(TEXTS), proba)


def test_stateful_pooling_of_one_chunk_documents_is_max_pooling() -> None:
    """Documents that fit in one chunk: training and prediction are exactly max pooling's."""
    one = {**CHUNKED, "tokenizer": {**CHUNKED["tokenizer"], "max_length": 32}}
    as_max = {**one, "model": {**one["model"], "chunk_pooling": "max"}}
    stateful = TextClassifier(one).fit(TEXTS, LABELS)
    docs = stateful.backend_.encode(TEXTS, None).docs  # type: ignore[union-attr]
    assert max(len(d) for d in docs) == 1
    plain = TextClassifier(as_max).fit(TEXTS, LABELS)
    np.testing.assert_array_equal(stateful.predict_proba(TEXTS), plain.predict_proba(TEXTS))


def test_pool_chunk_logits_adds_the_detached_state_to_max_pooling() -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(7, 5, generator=g, requires_grad=True)
    doc_index = torch.tensor([0, 1, 0, 2, 1, 0, 2])  # chunks of a document in reading order
    pooling = ChunkPooling("stateful", k=2, gamma=0.5)
    out = pool_chunk_logits(logits, doc_index, 3, pooling)
    mx = torch.stack([logits[doc_index == d].max(0).values for d in range(3)])
    state = stateful_pool(logits.detach(), doc_index, 3, 2, 0.5)
    last = logits.detach()[[5, 4, 6]]
    torch.testing.assert_close(out, mx + (state - last))
    assert (state - last).abs().sum() > 0
    # the gradient is max pooling's
    (grad,) = torch.autograd.grad(out.sum(), logits)
    (grad_max,) = torch.autograd.grad(mx.sum(), logits)
    torch.testing.assert_close(grad, grad_max)
    # max pooling is the default; a wrapper (e.g. DDP) is looked through
    assert chunk_pooling_of(torch.nn.Linear(2, 2)) == ChunkPooling()
    inner = torch.nn.Linear(2, 2)
    set_chunk_pooling(inner, pooling)
    wrapper = torch.nn.Module()
    wrapper.module = inner
    assert chunk_pooling_of(wrapper) == pooling
    assert "chunk_pooling" not in inner.state_dict()


# ------------------------------------------------------------- training on label subsets


def _widths_seen(monkeypatch: pytest.MonkeyPatch, cls: type) -> list[tuple[bool, int]]:
    """(training mode, logits width) of every forward of heads of class ``cls``."""
    seen: list[tuple[bool, int]] = []
    forward = cls.forward

    def spy(self: Any, enc: Any) -> Any:
        out = forward(self, enc)
        seen.append((self.training, int(out.logits.shape[1])))
        return out

    monkeypatch.setattr(cls, "forward", spy)
    return seen


def test_label_sample_trains_on_subsets_and_scores_every_label_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen = _widths_seen(monkeypatch, PlantHead)
    cfg = {**CFG, "train": {**CFG["train"], "label_sample": 5}}
    clf = TextClassifier(cfg).fit(TEXTS, LABELS)
    train_widths = [w for training, w in seen if training]
    assert train_widths and all(5 <= w < NUM_LABELS for w in train_widths)
    assert len(set(train_widths)) > 1 or train_widths[0] == 5  # positives can exceed 5
    assert all(w == NUM_LABELS for training, w in seen if not training)  # validation
    assert clf.predict_proba(TEXTS[:3]).shape == (3, NUM_LABELS)


def test_label_sample_covering_every_label_trains_exactly_like_none() -> None:
    base = {**CFG, "model": {**CFG["model"], "head": {"name": "labelwise_attention", "attn_dim": 8,
                                                       "label_chunk_size": 5}}}
    base.pop("plant")
    full = TextClassifier(base).fit(TEXTS, LABELS)
    every = TextClassifier({**base, "train": {**base["train"], "label_sample": NUM_LABELS}}).fit(TEXTS, LABELS)
    np.testing.assert_allclose(every.predict_proba(TEXTS), full.predict_proba(TEXTS), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("change, match", [
    ({"loss": {"name": "bce", "pos_weight": "balanced"}}, "sum of per-label terms"),
    ({"task": "multiclass"}, "sum of per-label terms"),  # softmax cross-entropy
])
def test_label_sample_refuses_losses_that_are_not_per_label(change: dict[str, Any], match: str) -> None:
    cfg = {**CFG, **change, "train": {**CFG["train"], "label_sample": 5}}
    labels = [lab[:1] for lab in LABELS] if change.get("task") == "multiclass" else LABELS
    with pytest.raises(ValueError, match=match):
        TextClassifier(cfg).fit(TEXTS, labels)


def test_evaluate_with_set_decodes_the_same_weights_another_way(tmp_path: Path, capsys) -> None:
    """`labelwise evaluate RUN --set model.chunk_pooling=max`: the stateful-trained weights
    decoded with max pooling, as setting the pooling on the loaded model does; keys that the
    weights depend on are refused."""
    from labelwise.cli import main

    run = tmp_path / "run"
    clf = TextClassifier(CHUNKED).fit_examples(_examples(), run_dir=run)
    data = tmp_path / "eval.jsonl"
    data.write_text("".join(json.dumps({"text": t, "labels": list(lab)}) + "\n"
                            for t, lab in zip(TEXTS, LABELS, strict=True)))
    assert main(["evaluate", str(run), "--data", str(data), "--set", "model.chunk_pooling=max"]) == 0
    as_max = json.loads(capsys.readouterr().out)
    assert main(["evaluate", str(run), "--data", str(data)]) == 0
    as_trained = json.loads(capsys.readouterr().out)
    set_chunk_pooling(clf.backend_.model, ChunkPooling())  # type: ignore[arg-type]
    expected = clf.evaluate(TEXTS, LABELS)
    assert as_max == pytest.approx({k: round(v, 6) for k, v in expected.items()}, abs=1e-6)
    assert as_max != as_trained
    loaded = TextClassifier.load(run, ["model.chunk_pooling=max"])
    assert chunk_pooling_of(loaded.backend_.model) == ChunkPooling()  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="model.encoder.embed_dim.*cannot change"):
        TextClassifier.load(run, ["model.encoder.embed_dim=8"])


def test_onnx_export_of_a_stateful_chunked_run_decodes_as_the_model(tmp_path: Path) -> None:
    """The export pools chunk logits with the run's own pooling component, the stateful
    decoder included: the ONNX predictor's logits are the PyTorch model's."""
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from labelwise.export import OnnxPredictor, export_onnx

    run = tmp_path / "run"
    clf = TextClassifier(CHUNKED).fit_examples(_examples(), run_dir=run)
    assert chunk_pooling_of(clf.backend_.model) == ChunkPooling("stateful", 3, 1.0)  # type: ignore[arg-type]
    export_onnx(run, tmp_path / "onnx")
    onnx = OnnxPredictor(tmp_path / "onnx", threads=1)
    np.testing.assert_allclose(onnx.logits(TEXTS), clf.backend_.logits(TEXTS), atol=1e-4, rtol=0)
    assert onnx.predict(TEXTS) == clf.predict(TEXTS)
