"""labelwise explain: per-label token weights of the linear model (exact shares of the
score), of label-wise attention heads (their own attention) and of PLANT (with the planted
tokens), as JSON records and a self-contained HTML page."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from labelwise import TextClassifier
from labelwise.explain import explain, to_html
from labelwise.types import Example
from tests.integration.test_plant_pipeline import CFG, LABELS, TEXTS
from tests.integration.test_sklearn import LINEAR, X, Y


def test_linear_shares_add_up_to_the_score_and_name_the_words() -> None:
    clf = TextClassifier(**LINEAR, model__linear__C=1.0).fit(X, Y)
    text = "pasta and cheese for the team"
    [rec] = clf.explain([text])
    assert rec["method"].startswith("linear") and [it["label"] for it in rec["labels"]] == clf.predict([text])
    item = rec["labels"][0]
    j = clf.classes_.index(item["label"])
    model = clf.backend_.model  # type: ignore[attr-defined]
    raw = model.decision_function([text])[0, j] - model.intercept_[j]
    assert sum(w for _, w in item["tokens"]) == pytest.approx(raw, abs=1e-5)  # the exact share of the score
    assert item["tokens"][0][0] in ("pasta", "cheese")  # the food words weigh most
    words = rec["words"]
    assert words["tokens"] == ["pasta", "and", "cheese", "for", "the", "team"]
    assert sum(words["weights"][item["label"]]) == pytest.approx(raw, abs=1e-5)
    asked = clf.explain([text], labels=["sport"])[0]["labels"]
    assert [it["label"] for it in asked] == ["sport"] and dict(asked[0]["tokens"])["team"] > 0
    with pytest.raises(ValueError, match="'weather' not among the run's labels"):
        clf.explain([text], labels=["weather"])


@pytest.mark.parametrize("head", ["labelwise_attention", "plant"])
def test_attention_weights_are_the_heads_own(head: str) -> None:
    cfg = dict(CFG)
    if head == "labelwise_attention":
        cfg = {**CFG, "model": {**CFG["model"], "head": {"name": head, "attn_dim": 8, "label_chunk_size": 5}}}
        cfg.pop("plant")
    clf = TextClassifier(cfg).fit_examples([Example(t, tuple(y)) for t, y in zip(TEXTS, LABELS, strict=True)])
    records = explain(clf, TEXTS[:3])
    for rec, text in zip(records, TEXTS[:3], strict=True):
        for item in rec["labels"]:
            weights = np.array([t[1] for t in item["tokens"]])
            assert weights.min() >= 0 and weights.sum() == pytest.approx(1.0, abs=1e-4)  # a softmax over tokens
            words = clf.backend_.tokenizer.tokens(text)[:14]  # type: ignore[attr-defined]
            assert [t[0] for t in item["tokens"]] == ["[CLS]", *words, "[SEP]"]
            if head == "plant":
                assert all(len(t) == 3 for t in item["tokens"]) and any(t[2] for t in item["tokens"])
    assert ("planted" in records[0]["method"]) == (head == "plant")


def test_explain_cli_writes_records_and_a_page(tmp_path: Path) -> None:
    from labelwise.cli import main

    run = tmp_path / "run"
    TextClassifier(**LINEAR).fit_examples([Example(t, (y,)) for t, y in zip(X, Y, strict=True)], run_dir=run)
    texts = tmp_path / "texts.txt"
    texts.write_text("pasta and soup <b>tonight</b>\nthe team scored a goal\n")
    out, page = tmp_path / "why.jsonl", tmp_path / "why.html"
    assert main(["explain", str(run), str(texts), "-o", str(out), "--html", str(page)]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["labels"][0]["label"] for r in records] == ["food", "sport"]
    doc = page.read_text()
    assert doc.count("<h2>") == 2 and "&lt;b&gt;tonight&lt;/b&gt;" in doc and "<script" not in doc
    assert "http" not in doc  # self-contained: nothing to fetch


def test_integrated_gradients_add_up_to_the_change_from_the_baseline() -> None:
    """Completeness: a token-embedding attribution sums to score(text) - score(baseline)."""
    pytest.importorskip("captum")
    import torch

    cfg = {"model": {"encoder": {"name": "cnn", "embed_dim": 8, "num_filters": 4, "kernel_sizes": [2]}},
           "tokenizer": {"vocab_size": 100}, "train": {"epochs": 2, "progress": False}}
    clf = TextClassifier(cfg).fit(X, Y)
    text = "pasta and cheese for the team"
    [rec] = clf.explain([text])
    item = rec["labels"][0]
    assert rec["method"].startswith("integrated gradients") and item["label"] == clf.predict([text])[0]
    model, tok = clf.backend_.network()  # type: ignore[attr-defined]
    [[ids]] = tok.documents([text], clf.config_.tokenizer)
    base = [i if i in (tok.cls_id, tok.sep_id) else tok.pad_id for i in ids]
    with torch.no_grad():
        both = model(torch.tensor([ids, base]), torch.ones(2, len(ids), dtype=torch.bool)).logits
    j = clf.classes_.index(item["label"])
    gap = float(torch.softmax(both, -1)[0, j] - torch.softmax(both, -1)[1, j])
    assert sum(w for _, w in item["tokens"]) == pytest.approx(gap, abs=0.02)
    assert "Text 1" in to_html([rec])


def test_a_fusion_is_explained_through_its_members() -> None:
    clf = TextClassifier({"model": {"type": "fusion", "fusion": {"members": [
        {"config": {"model": {"type": "linear", "linear": {"min_df": 1}}}},
        {"config": {"model": {"type": "linear", "linear": {"min_df": 1, "C": 4.0}}}}]}}}).fit(X, Y)
    with pytest.raises(ValueError, match="explain its members"):
        clf.explain(X[:1])
