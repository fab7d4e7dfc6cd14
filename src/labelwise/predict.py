"""Batch prediction: stream a text or JSONL file through a run and write JSONL."""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from labelwise.data.formats import iter_texts
from labelwise.decode import top_k
from labelwise.estimator import TextClassifier
from labelwise.progress import make_progress


def _chunks(it: Iterator[str], size: int) -> Iterator[list[str]]:
    while True:
        block = list(itertools.islice(it, size))
        if not block:
            return
        yield block


def prediction_records(clf: TextClassifier, texts: list[str], k: int) -> list[dict[str, Any]]:
    scores = clf.predict_proba(texts)
    decided = clf.decide(scores)
    idx, vals = top_k(scores, k)
    classes = clf.classes_
    out = []
    for i, text in enumerate(texts):
        labels = [classes[j] for j in np.nonzero(decided[i])[0]]
        out.append({
            "text": text,
            "labels": labels,
            "scores": {classes[j]: round(float(scores[i, j]), 6) for j in np.nonzero(decided[i])[0]},
            "top_k": [[classes[j], round(float(v), 6)] for j, v in zip(idx[i], vals[i], strict=True)],
        })
    return out


def _completed_records(output: Path) -> int:
    """Count the complete JSONL records in ``output`` and cut a partial last line (a write
    interrupted mid-record), so appending resumes exactly after the last whole record."""
    with open(output, "rb+") as f:
        data = f.read()
        keep = data.rfind(b"\n") + 1  # 0 when no line is complete
        if keep != len(data):
            f.truncate(keep)
    return data[:keep].count(b"\n")


def _check_same_options(output: Path, k: int) -> None:
    """Refuse to append to records written with another --top-k (the file would mix two)."""
    with open(output, encoding="utf-8") as fh:
        try:
            first = json.loads(fh.readline())
            written = len(first["top_k"])
        except (ValueError, KeyError, TypeError):
            raise ValueError(f"{output}:1: not a record of `labelwise predict`; --resume continues "
                             "only a file it wrote. Choose another --output") from None
    if written != k:
        raise ValueError(f"{output} was written with --top-k {written}, and this run asks for {k}; "
                         f"resume with --top-k {written}, or start again with --overwrite")


def predict_file(run_dir: Path, input_path: Path, output: Path | None, k: int | None = None,
                 batch_size: int = 256, resume: bool = False, clf: TextClassifier | None = None) -> int:
    """Label every document of ``input_path``; memory is bounded by ``batch_size``.

    Records are flushed to ``output`` batch by batch. With ``resume`` an interrupted run
    continues: the records already in ``output`` are kept (a partial last line is cut),
    that many input documents are skipped, and the rest is appended, so no document is
    repeated or lost. ``clf``: the model to use instead of loading ``run_dir`` (an ONNX
    export's classifier). Returns the number of documents labelled by this call.
    """
    if resume and output is None:
        raise ValueError("--resume needs --output FILE (the file to continue)")
    if output is not None and output.exists() and input_path.exists() and output.samefile(input_path):
        raise ValueError(f"the output '{output}' is the input file; writing it would destroy the input")
    clf = clf or TextClassifier.load(run_dir)  # (given: e.g. an ONNX export's)
    k = k or clf.config_.decode.top_k
    done = _completed_records(output) if resume and output is not None and output.is_file() else 0
    if done:
        _check_same_options(output, min(k, len(clf.classes_)))  # type: ignore[arg-type]
    texts = itertools.islice(iter(iter_texts(input_path)), done, None)
    n = 0
    sink: IO[str] = open(output, "a" if done else "w", encoding="utf-8") if output else sys.stdout
    try:
        with make_progress(output is not None) as progress:
            task = progress.add_task("predict", total=None, completed=done, info="")
            for block in _chunks(texts, batch_size):
                sink.write("".join(json.dumps(rec, ensure_ascii=False) + "\n"
                                   for rec in prediction_records(clf, block, k)))
                sink.flush()
                n += len(block)
                progress.update(task, advance=len(block))
    except OSError as err:  # a full disk, say: name the file (a failed write names none)
        if err.filename is None and output is not None:
            raise OSError(err.errno, err.strerror, str(output)) from err
        raise
    finally:
        if output:
            try:
                sink.close()
            except OSError:
                pass  # the write that failed has been reported
    return n
