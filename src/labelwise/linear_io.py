"""Pickle-free storage of a TF-IDF + linear model: tensors in safetensors, the rest in JSON.

``linear.safetensors`` holds ``idf`` (V,) float64, ``intercept`` (L,) float32 and either
``coef`` (L, V) float32 or the CSR triplet ``coef_data`` / ``coef_indices`` / ``coef_indptr``.
``linear.json`` holds ``format_version``, ``task``, the shapes, the model config, the
vectorizer's settings and its vocabulary as a ``{token: column}`` mapping.

A label-tree model (format 2, ``coef_format: tree``) holds the tree and its clusters'
weights instead of ``coef`` and ``intercept`` (:func:`labelwise.linear_tree.tree_arrays`);
an ensemble of trees (format 4) adds each further tree's arrays under names ending ``.1``,
``.2``...
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import scipy.sparse as sp
from safetensors.numpy import load_file, save_file

from labelwise import checkpoint as ckpt
from labelwise import linear_tree, rundir

FORMAT_VERSION = 4  # 2: label trees; 3: their weights sparse; 4: ensembles of trees
SINGLE_TREE_FORMAT = 3  # a single tree is still written as 3, one-vs-rest models as 1
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
    coef: Coef | None  # (L, V) float32, dense or CSR; None for a label tree
    intercept: np.ndarray | None  # (L,) float32; None for a label tree
    extra: dict[str, Any]
    tree: dict[str, np.ndarray] | None = field(default=None)  # a label tree's arrays


def save_state(state: LinearState, directory: str | Path) -> Path:
    """Write ``linear.safetensors`` and ``linear.json`` under ``directory`` (created)."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, np.ndarray] = {"idf": np.ascontiguousarray(state.idf, dtype=np.float64)}
    num_features = len(state.idf)
    if state.tree is not None:
        tensors.update({k: np.ascontiguousarray(v) for k, v in state.tree.items()})
        coef_format = "tree"
        num_labels = int((state.tree["tree_label"] >= 0).sum())
    elif state.coef is None or state.intercept is None:
        raise ValueError("a linear model state needs coef and intercept, or a tree")
    elif sp.issparse(state.coef):
        csr = sp.csr_matrix(state.coef)
        tensors["coef_data"] = np.ascontiguousarray(csr.data, dtype=np.float32)
        tensors["coef_indices"] = np.ascontiguousarray(csr.indices, dtype=np.int64)
        tensors["coef_indptr"] = np.ascontiguousarray(csr.indptr, dtype=np.int64)
        coef_format = "csr"
    else:
        tensors["coef"] = np.ascontiguousarray(state.coef, dtype=np.float32)
        coef_format = "dense"
    if state.tree is None:
        assert state.coef is not None and state.intercept is not None
        tensors["intercept"] = np.ascontiguousarray(state.intercept, dtype=np.float32)
        num_labels, num_features = state.coef.shape
    meta = {
        "format_version": 1 if state.tree is None else
        FORMAT_VERSION if linear_tree.tree_count(state.tree) > 1 else SINGLE_TREE_FORMAT,
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
    tree = None
    if meta["coef_format"] == "tree":
        tree = {k: v for k, v in t.items() if k.startswith(("tree_", "node_"))}
        coef: Coef | None = None
    elif meta["coef_format"] == "csr":
        coef = sp.csr_matrix(
            (t["coef_data"], t["coef_indices"], t["coef_indptr"]), shape=shape
        )
    else:
        coef = t["coef"]
    vocabulary = {tok: int(i) for tok, i in meta["vocabulary"].items()}
    coef_shape = shape if coef is None else coef.shape
    if coef_shape != shape or t["idf"].shape != (shape[1],) or len(vocabulary) != shape[1]:
        raise ValueError(
            f"{src}: inconsistent model files: coef {coef_shape}, idf {t['idf'].shape}, "
            f"{len(vocabulary)} vocabulary entries, expected (L, V) = {shape}"
        )
    return LinearState(
        config=meta["config"],
        task=meta["task"],
        vectorizer=meta["vectorizer"],
        vocabulary=vocabulary,
        idf=t["idf"],
        coef=coef,
        intercept=t.get("intercept"),
        extra=meta.get("extra", {}),
        tree=tree,
    )
