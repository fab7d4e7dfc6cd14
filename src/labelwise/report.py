"""``labelwise report RUN_DIR``: one self-contained HTML page about a trained run.

The page holds the run's metrics on a labelled split, metrics per frequency bucket and per
label, the thresholds chosen on validation, and four plots (PNG, embedded): per-label F1
against training frequency; a confusion matrix (multi-class) or per-label precision against
recall (the other tasks); a reliability diagram (does a score of 0.8 come true 80 % of the
time?); and the learning curves of ``log.jsonl``.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from labelwise import rundir
from labelwise.card import model_card
from labelwise.estimator import TextClassifier
from labelwise.metrics.functional import confusion_counts, per_label_scores
from labelwise.plots import per_label_f1_figure
from labelwise.types import Example

MAX_LABEL_ROWS = 200  # per-label table rows (the most frequent labels first)
MAX_CONFUSION = 20  # classes in the confusion matrix (the most frequent)


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_f1_by_frequency(train_counts: np.ndarray, f1: np.ndarray, support: np.ndarray) -> str:
    """Per-label F1 against training frequency, for the labels with test documents."""
    seen = support > 0
    return _png(per_label_f1_figure(train_counts[seen], {"a label (with test documents)": f1[seen]}))


def plot_confusion(y: np.ndarray, decisions: np.ndarray, classes: list[str]) -> str:
    plt = _pyplot()
    top = np.argsort(-y.sum(0), kind="stable")[:MAX_CONFUSION]
    truth, said = y.argmax(1), np.where(decisions.any(1), decisions.argmax(1), -1)
    matrix = np.zeros((len(top), len(top)))
    for i, t in enumerate(top):
        rows = (truth == t) & (y.sum(1) > 0)
        for j, s in enumerate(top):
            matrix[i, j] = np.sum(said[rows] == s)
        matrix[i] /= max(rows.sum(), 1)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    im = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1)
    names = [str(classes[t])[:18] for t in top]
    ax.set_xticks(range(len(top)), names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(top)), names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("confusion matrix (share of each true class)"
                 + (f", the {MAX_CONFUSION} most frequent" if len(classes) > MAX_CONFUSION else ""))
    fig.colorbar(im, ax=ax, label="share of the true class's documents")
    return _png(fig)


def plot_precision_recall(precision: np.ndarray, recall: np.ndarray, support: np.ndarray) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 5))
    seen = support > 0
    sc = ax.scatter(recall[seen], precision[seen], s=10 + 40 * np.sqrt(support[seen] / max(support.max(), 1)),
                    c=np.log10(np.maximum(support[seen], 1)), cmap="viridis", alpha=0.7)
    fig.colorbar(sc, ax=ax, label="test documents with the label (log10)")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("per-label precision against recall (a point: a label)")
    ax.grid(alpha=0.3)
    return _png(fig)


def reliability(scores: np.ndarray, y: np.ndarray, multiclass: bool, bins: int = 10) -> tuple[np.ndarray, ...]:
    """(bin centre, mean score, observed frequency, count) per non-empty bin: for multi-class
    the top score against whether the top class is right; else every (document, label) score
    against whether the label is true."""
    if multiclass:
        conf, hit = scores.max(1), (scores.argmax(1) == y.argmax(1)) & (y.sum(1) > 0)
    else:
        conf, hit = scores.ravel(), y.ravel() > 0
    idx = np.minimum((conf * bins).astype(int), bins - 1)
    count = np.bincount(idx, minlength=bins)
    keep = count > 0
    mean = np.bincount(idx, weights=conf, minlength=bins)[keep] / count[keep]
    freq = np.bincount(idx, weights=hit.astype(float), minlength=bins)[keep] / count[keep]
    centres = (np.arange(bins) + 0.5)[keep] / bins
    return centres, mean, freq, count[keep]


def plot_reliability(scores: np.ndarray, y: np.ndarray, multiclass: bool) -> str:
    plt = _pyplot()
    _, mean, freq, count = reliability(scores, y, multiclass)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="calibrated")
    ax.plot(mean, freq, marker="o", label="this model")
    for m, f, c in zip(mean, freq, count, strict=True):
        ax.annotate(f"{c}", (m, f), textcoords="offset points", xytext=(4, -10), fontsize=7, color="#555")
    ax.set_xlabel("top score" if multiclass else "score of a (document, label)")
    ax.set_ylabel("share right" if multiclass else "share true")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title("reliability (numbers: cases per bin)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    return _png(fig)


def plot_learning_curves(log_path: Path, primary: str) -> str | None:
    if not log_path.is_file():
        return None
    train, evals = [], []
    for line in log_path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("event") == "train" and "loss" in rec:
            train.append((rec["step"], rec["loss"]))
        elif rec.get("event") == "eval" and isinstance(rec.get(primary), (int, float)):
            evals.append((rec["step"], rec[primary]))
    if not train and not evals:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    lines = []
    if train:
        lines += ax.plot(*zip(*train, strict=True), color="C0", label="training loss")
        ax.set_ylabel("training loss")
    ax.set_xlabel("step")
    if evals:
        ax2 = ax.twinx()
        lines += ax2.plot(*zip(*evals, strict=True), color="C1", marker="o", label=f"validation {primary}")
        ax2.set_ylabel(f"validation {primary}")
    ax.set_title("learning curves")
    ax.grid(alpha=0.3)
    ax.legend(lines, [ln.get_label() for ln in lines], loc="center right")
    return _png(fig)


def _table(head: list[str], rows: list[list[str]]) -> str:
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def build_report(clf: TextClassifier, run_dir: Path, examples: list[Example], split: str) -> str:
    """The page for ``clf`` (loaded from ``run_dir``) measured on ``examples``."""
    texts = [e.text for e in examples]
    y = clf.labels_.encode_many(examples)
    scores = clf.predict_proba(texts)
    decisions = clf.decide(scores)
    metrics = clf._measure(scores, y)
    multiclass = clf.task_.value == "multiclass"
    tp, fp, fn = confusion_counts(decisions.astype(bool), y.astype(bool))
    precision, recall, f1 = per_label_scores(tp, fp, fn)
    support = tp + fn
    train_counts = np.asarray(clf.labels_.train_counts, dtype=float)
    classes = [str(c) for c in clf.classes_]
    figures = [("Per-label F1 against training frequency", plot_f1_by_frequency(train_counts, f1, support)),
               ("Confusion matrix" if multiclass else "Per-label precision and recall",
                plot_confusion(y, decisions, classes) if multiclass else plot_precision_recall(precision, recall, support)),
               ("Reliability", plot_reliability(scores, y, multiclass))]
    curves = plot_learning_curves(run_dir / rundir.LOG, clf.task_.primary_metric(clf.config_.train.primary_metric))
    if curves:
        figures.append(("Learning curves", curves))
    order = np.argsort(-train_counts, kind="stable")[:MAX_LABEL_ROWS]
    label_rows = [[html.escape(classes[j]), f"{int(train_counts[j])}", f"{int(support[j])}", f"{precision[j]:.3f}",
                   f"{recall[j]:.3f}", f"{f1[j]:.3f}"] for j in order]
    metric_rows = [[html.escape(k), "-" if v != v else f"{v:.4f}"] for k, v in metrics.items()]
    threshold = np.asarray(clf.task_.state().get("threshold", 0.5), dtype=float)
    shown = (f"{float(threshold):.4g}" if threshold.ndim == 0 else
             f"one per label: {threshold.min():.3g} to {threshold.max():.3g}")
    if multiclass:
        reject = getattr(clf.task_, "reject", None)
        shown = "none (the best class)" if reject is None else f"abstain below a top score of {reject:.4g}"
    card = html.escape(model_card(run_dir))
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>labelwise report: {html.escape(run_dir.name)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(run_dir.name)}</h1>",
        f"<p class='sub'>{clf.task_.value}, {len(classes)} labels, measured on {html.escape(split)} "
        f"({len(examples):,} documents). Decision threshold (chosen on validation): {shown}.</p>",
        "<h2>Metrics</h2>", _table(["metric", "value"], metric_rows),
    ]
    for title, src in figures:
        parts.append(f"<h2>{html.escape(title)}</h2><img alt='{html.escape(title)}' src='{src}'>")
    parts += [f"<h2>Per label</h2><p class='sub'>The {len(order)} most frequent in training.</p>",
              _table(["label", "training docs", "test docs", "precision", "recall", "F1"], label_rows),
              "<h2>Model card</h2><pre>" + card + "</pre></body></html>"]
    return "\n".join(parts)


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222; padding: 0 1em; }
h2 { margin-top: 1.8em; font-size: 1.15em; }
.sub { color: #555; }
table { border-collapse: collapse; font-size: 0.9em; }
td, th { border-bottom: 1px solid #ddd; padding: 0.2em 0.8em; text-align: left; }
img { max-width: 100%; }
pre { white-space: pre-wrap; background: #f6f6f6; padding: 1em; }
"""
