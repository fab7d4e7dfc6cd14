"""ONNX export: tiny runs trained here, exported, and read back with ONNX Runtime.

Parity with the PyTorch model (same texts, same run):

- fp32 ``model.onnx``: logits and scores within ``FP32_ATOL`` (measured: at most 1.8e-7),
  the same top label for every text (up to exact ties) and the same ``predict`` output.
- int8 ``model.int8.onnx`` (dynamic quantisation of the weights): the same top label for
  at least ``INT8_MIN_AGREEMENT`` of the texts and scores within ``INT8_ATOL`` (measured on
  these tiny runs: top label agreement 100 %, score differences 4e-4 to 3.5e-3, and the
  thresholded ``predict`` output equal for 98-100 % of the texts).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from labelwise import TextClassifier  # noqa: E402
from labelwise.data.hierarchy import ROOT, Hierarchy  # noqa: E402
from labelwise.export import OnnxPredictor, export_onnx  # noqa: E402
from labelwise.types import Example  # noqa: E402

FP32_ATOL = 1e-4
INT8_ATOL = 0.05
INT8_MIN_AGREEMENT = 0.9

POSITIVE = ["wonderful", "moving", "brilliant", "charming", "delightful", "superb"]
NEGATIVE = ["dull", "clumsy", "tedious", "awful", "boring", "messy"]
TOPICS = {"music": ["soundtrack", "score", "songs", "singer"],
          "acting": ["performance", "cast", "actor", "actress"],
          "story": ["plot", "script", "ending", "twist"]}
FILLER = ["the", "film", "was", "really", "quite", "and", "its", "a", "with", "this", "of", "movie"]


def _corpus(n: int, seed: int, long_every: int = 0) -> tuple[list[str], list[str], list[tuple[str, ...]]]:
    """Review-like sentences: texts, a sentiment (multi-class) and topics (multi-label)."""
    rng = np.random.default_rng(seed)
    texts, sentiment, topics = [], [], []
    for i in range(n):
        pos = bool(rng.random() < 0.5)
        chosen = sorted(rng.choice(list(TOPICS), size=int(rng.integers(1, 3)), replace=False))
        words = list(rng.choice(FILLER, size=int(rng.integers(2, 9))))
        words += list(rng.choice(POSITIVE if pos else NEGATIVE, size=2))
        for t in chosen:
            words.append(str(rng.choice(TOPICS[t])))
        rng.shuffle(words)
        if long_every and i % long_every == 0:  # long enough to be cut or chunked
            words = list(rng.choice(FILLER, size=40)) + words
        texts.append(" ".join(words).capitalize() + ".")
        sentiment.append("positive" if pos else "negative")
        topics.append(tuple(chosen))
    return texts, sentiment, topics


TRAIN_TEXTS, TRAIN_SENTIMENT, TRAIN_TOPICS = _corpus(64, seed=0, long_every=5)
TEST_TEXTS = _corpus(45, seed=1, long_every=3)[0] + [
    "A wonderful score, but the plot was tedious!",
    "Unseen wordz: Zyxw qqq — ünïcödé…",
    "ok",
    "The cast " * 30 + "was brilliant, the ending clumsy.",
]

TRAIN = {"epochs": 3, "batch_size": 8, "lr": 0.01, "progress": False, "tensorboard": False,
         "patience": None, "eval_batch_size": 7}
TOKENIZER = {"vocab_size": 150, "max_length": 24}
RUNS: dict[str, dict[str, Any]] = {
    "cnn-multiclass": {  # long documents read head + tail: the ONNX path must read them alike
        "model": {"encoder": {"name": "cnn", "embed_dim": 16, "num_filters": 8, "kernel_sizes": [2, 3]}},
        "tokenizer": {**TOKENIZER, "long_documents": "head_tail", "head_tokens": 8}, "train": TRAIN,
    },
    "transformer-multilabel-chunked": {
        "task": "multilabel",
        "model": {"encoder": {"name": "transformer", "d_model": 16, "n_layers": 1, "n_heads": 2,
                              "max_len": 32}},
        "tokenizer": {"vocab_size": 150, "max_length": 12, "long_documents": "chunk", "max_chunks": 4},
        "train": TRAIN,
    },
    "multilevel-multiclass": {
        "model": {"encoder": {"name": "multilevel", "d_model": 16, "n_layers": 1, "n_heads": 2,
                              "max_len": 32, "window": 3, "compress": 2}},
        "tokenizer": TOKENIZER, "train": TRAIN,
    },
    "cnn-hierarchical": {
        "task": "hierarchical",
        "model": {"encoder": {"name": "cnn", "embed_dim": 16, "num_filters": 8, "kernel_sizes": [2]}},
        "tokenizer": TOKENIZER, "train": TRAIN,
    },
    "plant-multilabel": {  # the planted streams read the token ids: they are graph inputs too
        "task": "multilabel",
        "model": {"encoder": {"name": "cnn", "embed_dim": 16, "num_filters": 8, "kernel_sizes": [2]},
                  "head": {"name": "plant", "attn_dim": 8, "factor_dim": 8, "inattention_k": 3,
                           "label_chunk_size": 2}},
        "plant": {"factor_dim": 8, "top_n": 10, "l2r_epochs": 2},
        "tokenizer": TOKENIZER, "train": TRAIN,
    },
    "bilstm-multilabel": {
        "task": "multilabel",
        "model": {"encoder": {"name": "bilstm", "embed_dim": 16, "hidden_dim": 8, "num_layers": 2}},
        "tokenizer": TOKENIZER, "train": TRAIN,
    },
}


def _hierarchy() -> Hierarchy:
    """Sentiment, then sentiment/topic below it: one node per level per document."""
    edges = [(ROOT, s) for s in ("positive", "negative")]
    edges += [(s, f"{s}/{t}") for s in ("positive", "negative") for t in TOPICS]
    return Hierarchy(edges)


def _examples(name: str) -> list[Example]:
    if "hierarchical" in name:
        return [Example(t, (s, f"{s}/{y[0]}"))
                for t, s, y in zip(TRAIN_TEXTS, TRAIN_SENTIMENT, TRAIN_TOPICS, strict=True)]
    if "multilabel" in name:
        return [Example(t, y) for t, y in zip(TRAIN_TEXTS, TRAIN_TOPICS, strict=True)]
    return [Example(t, (y,)) for t, y in zip(TRAIN_TEXTS, TRAIN_SENTIMENT, strict=True)]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[TextClassifier, Path]]:
    """Each run of RUNS trained, saved and exported with its int8 copy: name -> (clf, export dir)."""
    root = tmp_path_factory.mktemp("export")
    out = {}
    for name, cfg in RUNS.items():
        run = root / name / "run"
        hierarchy = _hierarchy() if "hierarchical" in name else None
        clf = TextClassifier(cfg).fit_examples(_examples(name), run_dir=run, hierarchy=hierarchy)
        path = export_onnx(run, root / name / "onnx", quantize=True)
        out[name] = (clf, path.parent)
    return out


def _same_top_label(ref: np.ndarray, got: np.ndarray, atol: float) -> np.ndarray:
    """(N,) bool: the reference's top column is also the top of ``got`` (up to ``atol``,
    so that exact ties between two labels do not count as disagreement)."""
    top = ref.argmax(1)
    return got[np.arange(len(got)), top] >= got.max(1) - atol


@pytest.mark.parametrize("name", list(RUNS))
def test_fp32_matches_pytorch(exported: dict[str, tuple[TextClassifier, Path]], name: str) -> None:
    clf, out = exported[name]
    onnx = OnnxPredictor(out, threads=1)
    assert onnx.classes_ == clf.classes_
    ref_logits = clf.backend_.logits(TEST_TEXTS)
    np.testing.assert_allclose(onnx.logits(TEST_TEXTS), ref_logits, atol=FP32_ATOL, rtol=0)
    ref, got = clf.predict_proba(TEST_TEXTS), onnx.predict_proba(TEST_TEXTS)
    assert got.shape == ref.shape == (len(TEST_TEXTS), len(clf.classes_))
    np.testing.assert_allclose(got, ref, atol=FP32_ATOL, rtol=0)
    assert _same_top_label(ref, got, 1e-6).all()
    assert onnx.predict(TEST_TEXTS) == clf.predict(TEST_TEXTS)
    np.testing.assert_array_equal(onnx.decide(got), clf.decide(got))


@pytest.mark.parametrize("name", list(RUNS))
def test_int8_mostly_agrees(exported: dict[str, tuple[TextClassifier, Path]], name: str) -> None:
    clf, out = exported[name]
    ref = clf.predict_proba(TEST_TEXTS)
    got = OnnxPredictor(out, quantized=True, threads=1).predict_proba(TEST_TEXTS)
    assert np.abs(got - ref).max() <= INT8_ATOL
    assert _same_top_label(ref, got, 1e-6).mean() >= INT8_MIN_AGREEMENT


def test_batching_does_not_change_logits(exported: dict[str, tuple[TextClassifier, Path]]) -> None:
    """One document per graph run (no padding) and padded batches give the same logits."""
    _, out = exported["transformer-multilabel-chunked"]
    a = OnnxPredictor(out, threads=1, batch_size=1).logits(TEST_TEXTS)
    b = OnnxPredictor(out, threads=1, batch_size=16).logits(TEST_TEXTS)
    np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)


def test_export_directory_contents(exported: dict[str, tuple[TextClassifier, Path]]) -> None:
    clf, out = exported["transformer-multilabel-chunked"]
    expected = {"model.onnx", "model.int8.onnx", "tokenizer.json", "labels.json", "decode.json",
                "config.yaml", "run.json", "export.json"}
    assert {p.name for p in out.iterdir()} == expected  # no temporary files left behind
    info = json.loads((out / "export.json").read_text(encoding="utf-8"))
    assert info["format_version"] == 1 and info["opset"] == 17
    assert [i["name"] for i in info["inputs"]] == ["input_ids", "attention_mask"]
    assert [o["name"] for o in info["outputs"]] == ["logits"]
    assert info["max_length"] == 12 and info["long_documents"] == "chunk" and info["max_chunks"] == 4
    assert info["task"] == "multilabel" and info["num_labels"] == len(clf.classes_)
    import onnx

    model = onnx.load(str(out / "model.onnx"))
    onnx.checker.check_model(model)
    dims = [[d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input]
    assert dims == [["batch", "sequence"], ["batch", "sequence"]]
    run_dir = out.parent / "run"
    for name in ("labels.json", "decode.json", "config.yaml", "run.json", "tokenizer.json"):
        assert (out / name).read_bytes() == (run_dir / name).read_bytes()


def test_linear_run_cannot_be_exported(tmp_path: Path) -> None:
    run = tmp_path / "linear"
    TextClassifier({"model": {"type": "linear"}}).fit_examples(_examples("linear"), run_dir=run)
    with pytest.raises(ValueError, match="ONNX export is for neural models"):
        export_onnx(run, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_missing_int8_model_is_a_clear_error(exported: dict[str, tuple[TextClassifier, Path]], tmp_path: Path) -> None:
    from labelwise.checkpoint import CheckpointError

    _, out = exported["cnn-multiclass"]
    plain = tmp_path / "plain"
    export_onnx(out.parent / "run", plain)
    assert not (plain / "model.int8.onnx").exists()
    with pytest.raises(CheckpointError, match="quantize=True"):
        OnnxPredictor(plain, quantized=True)
    with pytest.raises(TypeError, match="single string"):
        OnnxPredictor(plain).logits("one text")  # type: ignore[arg-type]


def test_cli_export(tmp_path: Path) -> None:
    from labelwise.cli import main

    run = tmp_path / "run"
    TextClassifier(RUNS["cnn-multiclass"]).fit_examples(_examples("cnn-multiclass"), run_dir=run)
    assert main(["export", str(run), "--quantize"]) == 0
    assert (run / "onnx" / "model.onnx").is_file() and (run / "onnx" / "model.int8.onnx").is_file()
    assert main(["export", str(tmp_path / "nowhere")]) != 0


def test_quantized_export_prints_one_line(tmp_path: Path) -> None:
    """ONNX Runtime's quantiser logs advice and a dump of every integer tensor it skips, on
    the root logger: the command prints what it wrote and nothing else."""
    import os
    import subprocess
    import sys

    run = tmp_path / "run"
    TextClassifier(RUNS["cnn-multiclass"]).fit_examples(_examples("cnn-multiclass"), run_dir=run)
    done = subprocess.run([sys.executable, "-m", "labelwise", "export", str(run), "--quantize"],
                          capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=120)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout.strip().splitlines() == [f"exported {run / 'onnx' / 'model.onnx'} and model.int8.onnx"]


def test_predict_and_evaluate_take_an_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`labelwise predict` and `evaluate` read an ONNX export directory as they read a run."""
    from labelwise.cli import main

    run = tmp_path / "run"
    TextClassifier(RUNS["cnn-multiclass"]).fit_examples(_examples("cnn-multiclass"), run_dir=run)
    export_onnx(run, tmp_path / "onnx")
    data = tmp_path / "test.jsonl"
    data.write_text("".join(json.dumps({"text": t, "labels": [y]}) + "\n"
                            for t, y in zip(TRAIN_TEXTS, TRAIN_SENTIMENT, strict=True)))
    results = {}
    for where in (run, tmp_path / "onnx"):
        capsys.readouterr()
        assert main(["evaluate", str(where), "--data", str(data)]) == 0
        metrics = json.loads(capsys.readouterr().out)
        out = tmp_path / f"{where.name}.jsonl"
        assert main(["predict", str(where), str(data), "-o", str(out)]) == 0
        results[where.name] = metrics, [json.loads(line)["labels"] for line in out.read_text().splitlines()]
    assert results["onnx"][0] == pytest.approx(results["run"][0], abs=1e-3)
    assert results["onnx"][1] == results["run"][1]
    assert main(["evaluate", str(tmp_path / "onnx"), "--data", str(data), "--set", "model.chunk_pooling=max"]) != 0
