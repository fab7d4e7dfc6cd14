"""Pickle-free storage of a TF-IDF + linear model: tensors in safetensors, the rest in JSON.

``linear.safetensors`` holds ``idf`` (V,) float64, ``intercept`` (L,) float32 and either
``coef`` (L, V) float32 or the CSR triplet ``coef_data`` / ``coef_indices`` / ``coef_indptr``.
``linear.json`` holds ``format_version``, ``task``, the shapes, the model config, the
vectorizer's settings and its vocabulary as a ``{token: column}`` mapping.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import scipy.sparse as sp
from safetensors.numpy import load_file, save_file

from labelwise import checkpoint as ckpt
from labelwise import rundir

FORMAT_VERSION = 1
TENSORS_FILE = rundir.LINEAR_TENSORS
META_FILE = rundir.LINEAR_META

Coef: TypeAlias = "np.ndarray | sp.csr_matrix"


@dataclass
class LinearState:
    """Everything needed to rebuild a fitted TfidfLinear."""

    config: dict[str, Any]
    task: str
    vectorizer: dict[str, Any]  # TfidfVectorizer keyword arguments (no vocabulary)
    vocabulary: dict[str, int]
    idf: np.ndarray  # (V,) float64
    coef: Coef  # (L, V) float32, dense or CSR
    intercept: np.ndarray  # (L,) float32
    extra: dict[str, Any]


def save_state(state: LinearState, directory: str | Path) -> Path:
    """Write ``linear.safetensors`` and ``linear.json`` under ``directory`` (created)."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, np.ndarray] = {
        "idf": np.ascontiguousarray(state.idf, dtype=np.float64),
        "intercept": np.ascontiguousarray(state.intercept, dtype=np.float32),
    }
    if sp.issparse(state.coef):
        csr = sp.csr_matrix(state.coef)
        tensors["coef_data"] = np.ascontiguousarray(csr.data, dtype=np.float32)
        tensors["coef_indices"] = np.ascontiguousarray(csr.indices, dtype=np.int64)
        tensors["coef_indptr"] = np.ascontiguousarray(csr.indptr, dtype=np.int64)
        coef_format = "csr"
    else:
        tensors["coef"] = np.ascontiguousarray(state.coef, dtype=np.float32)
        coef_format = "dense"
    num_labels, num_features = state.coef.shape
    meta = {
        "format_version": FORMAT_VERSION,
        "task": state.task,
        "num_labels": int(num_labels),
        "num_features": int(num_features),
        "coef_format": coef_format,
        "config": state.config,
        "vectorizer": state.vectorizer,
        "extra": state.extra,
        "vocabulary": {tok: int(i) for tok, i in state.vocabulary.items()},
    }
    # each file atomically (temporary file, then rename): a crash never leaves half of one
    ckpt.atomic_write(out / TENSORS_FILE, lambda p: save_file(tensors, str(p)))
    ckpt.write_text(out / META_FILE, json.dumps(meta, ensure_ascii=False))
    return out


def load_state(directory: str | Path) -> LinearState:
    """Read what :func:`save_state` wrote; missing files or a newer format are errors."""
    src = Path(directory)
    for name in (TENSORS_FILE, META_FILE):
        if not (src / name).is_file():
            raise FileNotFoundError(
                f"expected {name} in {src} (written by TfidfLinear.save), but it is missing"
            )
    meta = json.loads((src / META_FILE).read_text(encoding="utf-8"))
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(
            f"{src / META_FILE}: format_version {version!r} is not supported by this labelwise "
            f"(reads up to {FORMAT_VERSION}); upgrade labelwise to load it"
        )
    t = load_file(str(src / TENSORS_FILE))
    shape = (meta["num_labels"], meta["num_features"])
    if meta["coef_format"] == "csr":
        coef: Coef = sp.csr_matrix(
            (t["coef_data"], t["coef_indices"], t["coef_indptr"]), shape=shape
        )
    else:
        coef = t["coef"]
    vocabulary = {tok: int(i) for tok, i in meta["vocabulary"].items()}
    if coef.shape != shape or t["idf"].shape != (shape[1],) or len(vocabulary) != shape[1]:
        raise ValueError(
            f"{src}: inconsistent model files: coef {coef.shape}, idf {t['idf'].shape}, "
            f"{len(vocabulary)} vocabulary entries, expected (L, V) = {shape}"
        )
    return LinearState(
        config=meta["config"],
        task=meta["task"],
        vectorizer=meta["vectorizer"],
        vocabulary=vocabulary,
        idf=t["idf"],
        coef=coef,
        intercept=t["intercept"],
        extra=meta.get("extra", {}),
    )
