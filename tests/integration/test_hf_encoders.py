"""Any Hugging Face encoder from a local folder, with its own tokenizer: tiny random BERT
(WordPiece) and RoBERTa (byte-level BPE) models built here train, save, load and export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from labelwise import ConfigError, TextClassifier
from labelwise.data.tokenize import TextTokenizer
from labelwise.models import pretrained_models
from labelwise.types import Example

TEXTS = ["good great fine day", "bad awful poor night", "great lovely good fun", "awful sad bad gloom"] * 6
LABELS = ["pos", "neg", "pos", "neg"] * 6
SIZE = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}


def _bert(folder: Path) -> Path:
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, BertTokenizerFast

    words = sorted({w for t in TEXTS for w in t.split()})
    chars = sorted({c for w in words for c in w})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words, *chars, *(f"##{c}" for c in chars)]
    tok = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    BertTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]",
                      pad_token="[PAD]", mask_token="[MASK]").save_pretrained(str(folder))
    BertModel(BertConfig(vocab_size=len(vocab), max_position_embeddings=40, **SIZE)).save_pretrained(str(folder))
    return folder


def _roberta(folder: Path) -> Path:
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaConfig, RobertaModel, RobertaTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(TEXTS, vocab_size=300, min_frequency=1,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    RobertaTokenizerFast(tokenizer_object=bpe._tokenizer, bos_token="<s>", eos_token="</s>", cls_token="<s>",
                         sep_token="</s>", pad_token="<pad>", unk_token="<unk>",
                         mask_token="<mask>").save_pretrained(str(folder))
    RobertaModel(RobertaConfig(vocab_size=bpe.get_vocab_size(), max_position_embeddings=42, pad_token_id=1,
                               **SIZE)).save_pretrained(str(folder))
    return folder


def _config(folder: Path, max_length: int = 16) -> dict:
    return {"model": {"encoder": {"name": "pretrained", "model": str(folder)}},
            "tokenizer": {"max_length": max_length},
            "train": {"epochs": 2, "batch_size": 8, "lr": 0.005, "progress": False, "tensorboard": False}}


@pytest.mark.parametrize("kind", ["bert", "roberta"])
def test_tiny_model_trains_saves_loads_and_exports(kind: str, tmp_path: Path) -> None:
    folder = (_bert if kind == "bert" else _roberta)(tmp_path / kind)
    tok = TextTokenizer.pretrained(folder)
    specials = {"bert": ("[CLS]", "[SEP]", "[PAD]"), "roberta": ("<s>", "</s>", "<pad>")}[kind]
    assert [tok._tok.id_to_token(i) for i in (tok.cls_id, tok.sep_id, tok.pad_id)] == list(specials)
    run = tmp_path / "run"
    clf = TextClassifier(_config(folder)).fit_examples(
        [Example(t, (lab,)) for t, lab in zip(TEXTS, LABELS, strict=True)], run_dir=run)
    # the run is self-contained: its tokenizer is saved, the same ids come back
    saved = TextTokenizer.load(run / "tokenizer.json", "pretrained")
    assert saved.encode(TEXTS[:3], 16) == tok.encode(TEXTS[:3], 16)
    again = TextClassifier.load(run)
    np.testing.assert_allclose(again.predict_proba(TEXTS[:6]), clf.predict_proba(TEXTS[:6]), atol=1e-6)
    pytest.importorskip("onnxruntime")
    from labelwise.export import OnnxPredictor, export_onnx

    export_onnx(run, tmp_path / "onnx")
    onnx = OnnxPredictor(tmp_path / "onnx", threads=1)
    np.testing.assert_allclose(onnx.predict_proba(TEXTS[:6]), clf.predict_proba(TEXTS[:6]), atol=1e-4)


def test_max_length_beyond_the_model_positions_is_refused(tmp_path: Path) -> None:
    folder = _roberta(tmp_path / "roberta")  # 42 positions, numbered after the padding id: 40 usable
    with pytest.raises(ConfigError, match="reads at most 40 tokens"):
        TextClassifier(_config(folder, max_length=64)).fit(TEXTS, LABELS)


def test_model_names_that_are_neither_presets_nor_folders(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="has no config.json"):
        pretrained_models.model_folder(str(tmp_path / "empty"))
    with pytest.raises(ValueError, match="is not a folder"):
        pretrained_models.model_folder(str(tmp_path / "missing"))


def test_minilm_l3_is_converted_once_and_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("onnxruntime")
    try:
        pretrained_models._l3_onnx()
    except ValueError:
        pytest.skip("the minilm-l3 package is not installed")
    monkeypatch.setenv("LABELWISE_CACHE", str(tmp_path))
    folder = pretrained_models.model_folder("minilm-l3")
    source = json.loads((folder / "source.json").read_text())
    assert source["layers"] == 3 and source["max_abs_diff_vs_onnx"] < 1e-4
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert pretrained_models.model_folder("minilm-l3") == folder  # cached: not converted again
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp
    assert TextTokenizer.pretrained(folder).encode(["hello world"], 8) == TextTokenizer.minilm().encode(["hello world"], 8)


@pytest.mark.parametrize("kind, task", [("bert", "multiclass"), ("roberta", "multilabel")])
def test_a_run_exports_to_a_transformers_folder_with_the_same_scores(kind: str, task: str, tmp_path: Path) -> None:
    """`labelwise export --format hf`: AutoModelForSequenceClassification and the
    text-classification pipeline load the folder (trust_remote_code) and give the run's scores."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    from labelwise.cli import main

    folder = (_bert if kind == "bert" else _roberta)(tmp_path / kind)
    labels = [[lab] + (["long"] if len(t) > 18 else []) for t, lab in zip(TEXTS, LABELS, strict=True)]
    run = tmp_path / "run"
    cfg = {**_config(folder), "task": task}
    if task == "multilabel":
        cfg["model"] = {**cfg["model"], "head": {"name": "linear", "hidden_dim": 8}}
    clf = TextClassifier(cfg).fit_examples(
        [Example(t, tuple(lab) if task == "multilabel" else (lab[0],)) for t, lab in zip(TEXTS, labels, strict=True)],
        run_dir=run)
    assert main(["export", str(run), "--format", "hf", "-o", str(tmp_path / "hf")]) == 0
    model = AutoModelForSequenceClassification.from_pretrained(str(tmp_path / "hf"), trust_remote_code=True)
    tok = AutoTokenizer.from_pretrained(str(tmp_path / "hf"))
    texts = TEXTS[:6] + ["good day", "an unknown wordz here"]
    with torch.no_grad():
        logits = model(**tok(texts, padding=True, truncation=True, return_tensors="pt")).logits.numpy()
    np.testing.assert_allclose(logits, clf.backend_.logits(texts), atol=1e-4)
    assert model.config.id2label == dict(enumerate(clf.classes_))
    scores = pipeline("text-classification", model=str(tmp_path / "hf"), trust_remote_code=True, top_k=None)(
        texts, truncation=True)
    got = np.array([[next(s["score"] for s in row if s["label"] == c) for c in clf.classes_] for row in scores])
    np.testing.assert_allclose(got, clf.predict_proba(texts), atol=1e-4)  # softmax, or sigmoids for multi-label


def test_hf_export_refuses_what_it_cannot_carry(tmp_path: Path) -> None:
    from labelwise.export import export_hf

    run = tmp_path / "run"
    TextClassifier({"model": {"type": "linear", "linear": {"min_df": 1}}}).fit_examples(
        [Example(t, (lab,)) for t, lab in zip(TEXTS, LABELS, strict=True)], run_dir=run)
    with pytest.raises(ValueError, match="pretrained encoder under a linear head"):
        export_hf(run, tmp_path / "hf")
