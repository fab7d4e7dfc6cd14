"""Why was this label given: per-label token weights of a trained run, as JSON and HTML.

- **Label-wise attention heads** (``labelwise_attention``, ``plant``): each label's own
  attention over the document's tokens, the weights the head averaged the token states
  with (they sum to 1 over a chunk's tokens, its special tokens such as ``[CLS]`` included:
  some attention falls on them, and hiding them would overstate the words). For PLANT, ``planted`` marks the tokens its
  planted streams (from the mutual-information / learning-to-rank stage) kept for the
  label.
- **The TF-IDF linear model** (one-vs-rest or multi-class): each n-gram's coefficient times
  its feature value, the exact share of the label's score; a word's weight in the HTML is
  the sum of its n-grams' shares, each split evenly over the n-gram's words.
- **Any other network** (a head that reads a pooled vector: CNN, BiLSTM, transformers,
  fine-tuned MiniLM): integrated gradients (captum, the ``explain`` extra) of the label's
  score with respect to the token embeddings, from a baseline text of padding.

:func:`explain` returns one record a text; :func:`to_html` renders records as one
self-contained page (no scripts, no network).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np

ATTENTION_HEADS = ("labelwise_attention", "plant")


def _labels_to_explain(clf: Any, scores: np.ndarray, asked: Sequence[str] | None) -> list[list[int]]:
    """Per text, the label ids to explain: those asked for, else the predicted ones (the
    best-scoring one where none passed)."""
    classes = list(clf.classes_)
    if asked:
        unknown = [a for a in asked if a not in classes]
        if unknown:
            raise ValueError(f"explain: {', '.join(map(repr, unknown))} not among the run's labels "
                             f"({', '.join(classes[:10])}{', ...' if len(classes) > 10 else ''})")
        ids = [classes.index(a) for a in asked]
        return [ids for _ in range(len(scores))]
    decided = clf.decide(scores)
    return [list(np.flatnonzero(row)) or [int(s.argmax())] for row, s in zip(decided, scores, strict=True)]


def explain(clf: Any, texts: Sequence[str], labels: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """``clf``: a fitted ``TextClassifier`` (what ``TextClassifier.explain`` passes). For each text: ``{"text", "method", "labels": [{"label", "score", "tokens"}]}``, where
    ``tokens`` are ``[token, weight]`` pairs (``[token, weight, planted]`` for PLANT) in
    document order (attention) or by decreasing share of the score (linear n-grams).

    Raises:
        ValueError: a model this cannot explain yet (a fusion, a label tree, a neural model
            whose head reads a pooled vector), or an unknown label.
    """
    if isinstance(texts, str):
        raise TypeError("explain(texts): expected a list of texts, got a single string")
    clf._check_fitted("explain")
    texts = list(texts)
    scores = clf.predict_proba(texts)
    wanted = _labels_to_explain(clf, scores, labels)
    cfg = clf.config_.model
    if cfg.type == "linear":
        return _explain_linear(clf, texts, scores, wanted)
    if cfg.type == "neural" and cfg.head.get("name") in ATTENTION_HEADS:
        return _explain_attention(clf, texts, scores, wanted)
    if cfg.type == "neural":
        return _explain_gradients(clf, texts, scores, wanted)
    raise ValueError("explain: the run is a fusion; explain its members (members/<i>/ in its run directory)")


def _explain_linear(clf: Any, texts: list[str], scores: np.ndarray,
                    wanted: list[list[int]]) -> list[dict[str, Any]]:
    model = clf.backend_.model  # type: ignore[attr-defined]
    if model.tree_ is not None:
        raise ValueError("explain: a label tree's scores are sums along its paths; explanations cover "
                         "one-vs-rest and multi-class linear models")
    vec, coef, _ = model._fitted()
    names = vec.get_feature_names_out()
    X = vec.transform(texts).tocsr()
    classes = clf.classes_
    out = []
    for i, text in enumerate(texts):
        row = X[i]
        items: list[dict[str, Any]] = []
        for j in wanted[i]:
            w = coef[j]
            w = np.asarray(w.toarray()).ravel() if hasattr(w, "toarray") else np.asarray(w).ravel()
            share = row.data * w[row.indices]
            order = np.argsort(-np.abs(share), kind="stable")
            tokens = [[str(names[row.indices[k]]), float(share[k])] for k in order if share[k] != 0]
            items.append({"label": str(classes[j]), "score": float(scores[i, j]), "tokens": tokens})
        out.append({"text": text, "method": "linear: coefficient x TF-IDF value", "labels": items,
                    "words": _linear_words(vec, text, {it["label"]: dict(it["tokens"]) for it in items})})
    return out


def _linear_words(vec: Any, text: str, shares: dict[str, dict[str, float]]) -> dict[str, Any]:
    """The text's words in order, and each label's weight per word: the shares of the
    n-grams that cover it, each split evenly over its words."""
    words = vec.build_tokenizer()(vec.build_preprocessor()(text))
    lo, hi = vec.ngram_range
    out: dict[str, Any] = {"tokens": words, "weights": {}}
    for label, by_gram in shares.items():
        weights = np.zeros(len(words))
        for n in range(lo, hi + 1):
            for s in range(len(words) - n + 1):
                share = by_gram.get(" ".join(words[s : s + n]))
                if share:
                    weights[s : s + n] += share / n
        out["weights"][label] = weights.tolist()
    return out


def _explain_attention(clf: Any, texts: list[str], scores: np.ndarray,
                       wanted: list[list[int]]) -> list[dict[str, Any]]:
    import torch

    from labelwise.data.collate import pad_ids
    from labelwise.models.heads.label_subset import scoring_labels

    backend = clf.backend_
    model, tokenizer = backend.network()  # type: ignore[attr-defined]
    head = model.head
    docs = tokenizer.documents(texts, clf.config_.tokenizer)
    classes = clf.classes_
    out = []
    previous = head.return_attention
    head.return_attention = True
    try:
        for i, text in enumerate(texts):
            ids = torch.tensor(wanted[i])
            input_ids, mask = pad_ids(docs[i], tokenizer.pad_id)  # one row a chunk
            with torch.inference_mode(), scoring_labels(head, ids):
                enc = model.encode(input_ids, mask)
                attention = head(enc).extras["attention"]  # (chunks, l, T)
                planted = _planted_masks(head, enc, wanted[i])
            items = []
            for col, j in enumerate(wanted[i]):
                tokens: list[list[Any]] = []
                for r, chunk in enumerate(docs[i]):
                    for t, tid in enumerate(chunk):  # the special tokens too: attention falls on them
                        entry: list[Any] = [tokenizer._tok.id_to_token(tid) or "", float(attention[r, col, t])]
                        if planted is not None:
                            entry.append(bool(planted[col][r, t]))
                        tokens.append(entry)
                items.append({"label": str(classes[j]), "score": float(scores[i, j]), "tokens": tokens})
            method = "attention: the label's own attention weights over the tokens"
            if planted is not None:
                method += "; planted: kept by the label's planted streams"
            out.append({"text": text, "method": method, "labels": items})
    finally:
        head.return_attention = previous
    return out


IG_STEPS = 32  # integrated gradients: points on the path from the baseline to the text


def _explain_gradients(clf: Any, texts: list[str], scores: np.ndarray,
                       wanted: list[list[int]]) -> list[dict[str, Any]]:
    """Integrated gradients (captum) of the label's score with respect to the token
    embeddings, summed over the embedding's width: a token's share of the score's change from
    a baseline text of padding (its special tokens kept) to the text itself."""
    try:
        from captum.attr import LayerIntegratedGradients
    except ImportError:
        raise ValueError("explain: a network whose head reads a pooled vector is explained by integrated "
                         "gradients, which need captum: pip install 'labelwise[explain]'") from None
    import torch

    from labelwise.data.collate import pad_ids

    model, tokenizer = clf.backend_.network()
    embedding = next((m for m in model.encoder.modules() if isinstance(m, torch.nn.Embedding)), None)
    if embedding is None:
        raise ValueError("explain: the encoder has no token embedding to attribute to")
    docs = tokenizer.documents(texts, clf.config_.tokenizer)
    distributional = clf.task_.distributional
    classes = clf.classes_

    def score(ids: torch.Tensor, mask: torch.Tensor, doc_index: torch.Tensor | None, label: int) -> torch.Tensor:
        logits = model(ids, mask, doc_index).logits.float()
        probs = torch.softmax(logits, -1) if distributional else torch.sigmoid(logits)
        return probs[:, label]

    ig = LayerIntegratedGradients(score, embedding)
    out = []
    specials = (tokenizer.cls_id, tokenizer.sep_id)
    for i, text in enumerate(texts):
        ids, mask = pad_ids(docs[i], tokenizer.pad_id)
        baseline = torch.where(torch.isin(ids, torch.tensor(specials)), ids, torch.full_like(ids, tokenizer.pad_id))
        doc_index = torch.zeros(len(ids), dtype=torch.long) if len(ids) > 1 else None
        items = []
        for j in wanted[i]:
            attr = ig.attribute(ids, baselines=baseline, additional_forward_args=(mask, doc_index, j),
                                n_steps=IG_STEPS, internal_batch_size=IG_STEPS)
            per_token = attr.sum(-1).detach().float()  # (rows, T)
            tokens = [[tokenizer._tok.id_to_token(tid) or "", float(per_token[r, t])]
                      for r, chunk in enumerate(docs[i]) for t, tid in enumerate(chunk)]
            items.append({"label": str(classes[j]), "score": float(scores[i, j]), "tokens": tokens})
        out.append({"text": text, "labels": items,
                    "method": "integrated gradients: each token embedding's share of the score's change "
                              "from a text of padding"})
    return out


def _planted_masks(head: Any, enc: Any, labels: list[int]) -> list[Any] | None:
    """PLANT: for each label, (rows, T) whether a planted stream kept the token."""
    if not getattr(head, "has_planted_streams", False):
        return None
    masks = []
    for j in labels:
        streams = head.planted_contributions(enc, j, j + 1)
        keep = None
        for _, kept in streams.values():
            keep = kept[:, 0] if keep is None else keep | kept[:, 0]
        masks.append(keep)
    return masks if all(m is not None for m in masks) else None


# ------------------------------------------------------------------------------- HTML

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; max-width: 60em; color: #222; }
h2 { font-size: 1.1em; margin-top: 2em; }
.label { margin: 0.8em 0; }
.name { font-weight: 600; }
.score { color: #666; font-size: 0.9em; }
.tokens span { padding: 0.1em 0.15em; border-radius: 0.2em; line-height: 1.9; }
.planted { text-decoration: underline; text-decoration-thickness: 2px; }
.legend { color: #555; font-size: 0.9em; }
"""


def _span(token: str, weight: float, scale: float, planted: bool = False) -> str:
    alpha = 0.0 if scale <= 0 else min(1.0, abs(weight) / scale)
    color = f"rgba(46, 160, 67, {alpha:.3f})" if weight >= 0 else f"rgba(215, 58, 73, {alpha:.3f})"
    cls = ' class="planted"' if planted else ""
    return (f'<span{cls} style="background:{color}" title="{weight:.4g}">'
            f"{html.escape(token.removeprefix('##'))}</span>")


def to_html(records: list[dict[str, Any]], title: str = "labelwise: why these labels") -> str:
    """One self-contained page: for each text, each explained label with its tokens
    highlighted by weight (green: towards the label, red: against; stronger is more)."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"]
    if records:
        parts.append(f"<p class='legend'>{html.escape(records[0]['method'])}. Green: towards the label, red: "
                     "against it; the stronger the colour, the larger the weight (hover for the value)."
                     + (" Underlined: kept by the planted streams." if "planted" in records[0]["method"] else "")
                     + "</p>")
    for n, rec in enumerate(records, 1):
        parts.append(f"<h2>Text {n}</h2><p>{html.escape(rec['text'][:2000])}</p>")
        for item in rec["labels"]:
            if "words" in rec:  # linear: the words of the text, weighted by their n-grams
                tokens = rec["words"]["tokens"]
                weights = rec["words"]["weights"][item["label"]]
                planted = [False] * len(tokens)
            else:
                tokens = [t[0] for t in item["tokens"]]
                weights = [t[1] for t in item["tokens"]]
                planted = [bool(t[2]) if len(t) > 2 else False for t in item["tokens"]]
            scale = max((abs(w) for w in weights), default=0.0)
            spans = " ".join(_span(t, w, scale, p) for t, w, p in zip(tokens, weights, planted, strict=True))
            parts.append(f"<div class='label'><span class='name'>{html.escape(item['label'])}</span> "
                         f"<span class='score'>score {item['score']:.3f}</span>"
                         f"<div class='tokens'>{spans}</div></div>")
    parts.append("</body></html>")
    return "\n".join(parts)
