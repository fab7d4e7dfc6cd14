"""What every runner of the side-by-side benchmark shares. Standard library only: the
runners of other tools import it from their own virtual environments.

A runner trains one system on one dataset and prints one JSON object on its last line of
stdout: ``train_seconds`` (from data in memory to a model ready to predict),
``infer_docs_per_s`` (its own prediction path over the whole test split, after a warm-up),
``peak_rss_mib`` (the process's peak resident memory, everything included),
``predictions`` (the predicted label names of each test document) and ``settings``.
The orchestrator (``compare_tools.py``) computes every metric from those predictions with
one implementation, so no tool is scored by its own code.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MULTILABEL = {"goemotions"}  # the others are multi-class (one label per document)


def data_dir(option: str | None) -> Path:
    for value in (option, os.environ.get("LABELWISE_DATA")):
        if value:
            return Path(value)
    for base in (Path.cwd(), ROOT):
        candidate = base.parent / "shared" / "data"
        if candidate.is_dir():
            return candidate
    raise SystemExit("no data directory: pass --data-dir or set LABELWISE_DATA")


def read_split(directory: Path, dataset: str, split: str, limit: int | None = None) -> tuple[list[str], list[list[str]]]:
    texts, labels = [], []
    with gzip.open(directory / dataset / f"{split}.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            if limit is not None and len(texts) >= limit:
                break
            row = json.loads(line)
            texts.append(row["text"])
            labels.append([str(x) for x in row["labels"]])
    return texts, labels


def label_names(*label_lists: Sequence[Sequence[str]]) -> list[str]:
    return sorted({lab for labels in label_lists for row in labels for lab in row})


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def time_inference(predict: Callable[[list[str]], list[list[str]]], texts: list[str],
                   warmup: int = 64) -> tuple[list[list[str]], float]:
    """Predictions for ``texts`` and documents/s of ``predict`` over all of them, after a
    warm-up call on the first ``warmup`` texts (lazy initialisation is not counted)."""
    predict(texts[:warmup])
    t0 = time.perf_counter()
    out = predict(texts)
    return out, len(texts) / (time.perf_counter() - t0)


def runner_args(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--dataset", required=True)
    p.add_argument("--data-dir")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--limit", type=int, help="read at most this many documents per split (smoke runs)")
    p.add_argument("--work", default=str(ROOT / "runs" / "compare"), help="scratch folder for models")
    return p


def emit(result: dict[str, Any]) -> None:
    result.setdefault("peak_rss_mib", peak_rss_mib())
    sys.stdout.write("\n" + json.dumps(result) + "\n")
    sys.stdout.flush()
