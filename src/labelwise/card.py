"""The model card of a run (``README.md`` in its run directory), in the spirit of Hugging
Face and skops model cards: what the model is, what it was trained on, how well it did,
what it is for and where it falls short. Written from the run's own files, so it says only
what the run recorded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from labelwise import checkpoint as ckpt
from labelwise import rundir


def _read(run_dir: Path, name: str) -> dict[str, Any]:
    path = run_dir / name
    return ckpt.read_json(path) if path.is_file() else {}


def _metrics_table(metrics: dict[str, Any]) -> list[str]:
    splits = [s for s in ("valid", "test") if isinstance(metrics.get(s), dict)]
    if not splits:
        return ["No metrics were recorded (a run saved from Python: `labelwise evaluate` measures one)."]
    names = [k for k in metrics[splits[0]] if isinstance(metrics[splits[0]][k], (int, float))][:12]
    lines = ["| metric | " + " | ".join(splits) + " |", "|---|" + "---|" * len(splits)]
    for n in names:
        cells = []
        for s in splits:
            v = metrics[s].get(n)
            cells.append("-" if not isinstance(v, (int, float)) or v != v else f"{v:.4f}")
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    return lines


def model_card(run_dir: str | Path) -> str:
    """The card of ``run_dir`` as Markdown."""
    run_dir = Path(run_dir)
    info = _read(run_dir, rundir.RUN_INFO)
    labels = _read(run_dir, rundir.LABELS)
    decode = _read(run_dir, rundir.DECODE)
    metrics = _read(run_dir, rundir.METRICS)
    config_path = run_dir / rundir.CONFIG
    cfg = yaml.safe_load(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
    model = cfg.get("model", {})
    kind = model.get("type", "neural")
    if kind == "neural":
        what = f"a {model.get('encoder', {}).get('name')} encoder with a {model.get('head', {}).get('name')} head"
        if model.get("encoder", {}).get("name") == "pretrained":
            what = f"the pretrained encoder {model['encoder'].get('model', 'minilm-l6')}, fine-tuned, with a " \
                   f"{model.get('head', {}).get('name')} head"
    elif kind == "linear":
        what = "a TF-IDF linear model" + (" (a label tree)" if (model.get("linear") or {}).get("tree") else "")
    else:
        what = f"a fusion of {len((model.get('fusion') or {}).get('members', []))} models"
    classes = labels.get("classes", [])
    data = cfg.get("data", {})
    source = data.get("dataset") or data.get("train") or "data given in Python"
    state = decode.get("train_state", {})
    threshold = decode.get("threshold")
    lines = [
        f"# {run_dir.name}",
        "",
        f"A labelwise {info.get('task', '?')} text classifier: {what}. labelwise "
        f"{info.get('labelwise_version', '?')}; status: {info.get('status', '?')}.",
        "",
        "## Data",
        "",
        f"- Trained on: `{source}`, {labels.get('num_train_docs', '?')} training documents"
        + (f" ({metrics['num_valid']} held out for validation)" if "num_valid" in metrics else "") + ".",
        f"- {len(classes)} labels: " + ", ".join(f"`{c}`" for c in classes[:20]) + (", ..." if len(classes) > 20 else "")
        + ".",
        "",
        "## Training",
        "",
        f"- Configuration: `{rundir.CONFIG}` in this folder (train it again with `labelwise train -c {rundir.CONFIG}`).",
    ]
    if "train_seconds" in metrics:
        lines.append(f"- Training time: {metrics['train_seconds']:.0f} s.")
    if state.get("precision"):
        lines.append(f"- Precision: {state['precision']}.")
    if threshold is not None:
        shown = f"{threshold:.3g}" if isinstance(threshold, (int, float)) else f"one per label ({len(threshold)})"
        lines.append(f"- Decision threshold, chosen on validation: {shown}.")
    lines += ["", "## Metrics", "", *_metrics_table(metrics), "",
              "## Intended use", "",
              "Labelling texts like those it was trained on, with the labels above. Scores are the "
              "model's (softmax or sigmoid), not calibrated probabilities unless the report's "
              "reliability diagram says they are close.", "",
              "## Limitations", "",
              "- It knows only the labels above, and texts unlike its training data can get confident "
              "wrong labels (a multi-class run answers even for texts of no class, unless "
              "`decode.abstain` is set).",
              "- Metrics come from the splits named above; on other data they will differ.",
              "- Rare labels (few training documents) are predicted less reliably: see the per-label "
              "F1 against frequency in `labelwise report`.", "",
              "Made by `labelwise`; `labelwise report` writes a page with per-label metrics, plots "
              "and the learning curves.", ""]
    return "\n".join(lines)


def write_model_card(run_dir: str | Path) -> Path:
    """Write ``README.md`` into ``run_dir`` (atomically) and return its path."""
    path = Path(run_dir) / rundir.MODEL_CARD
    ckpt.write_text(path, model_card(run_dir))
    return path
