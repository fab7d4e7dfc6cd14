"""PLANT's stage before training: MIG table -> L2R model -> planted head.

:func:`plant_stage` runs, on the training documents as the model reads them (token ids,
all chunks of a chunked document together):

1. ``occurrence``: the (N, V) document x token occurrence matrix, special tokens
   (``[PAD]``, ``[CLS]``, ``[SEP]``, ``[UNK]``, ``[MASK]``) left out;
2. ``mig``: the top-N tokens of every label by mutual-information gain
   (:func:`labelwise.plant.mig.compute_mig`);
3. ``l2r``: the learning-to-rank model trained on those lists with LambdaRank
   (:func:`labelwise.plant.l2r.train_l2r`);
4. ``plant``: its factors copied into the head's buffers (:meth:`PlantHead.plant`), which
   the model's state dict (``model.safetensors``, ``last.safetensors``) then carries.

With a run directory the stage writes ``<run>/plant/mig/``, ``<run>/plant/l2r/`` (their
own save formats, no pickle) and, last, ``<run>/plant/stage.json``: per step the wall
time and memory, the MIG table's size and the L2R NDCG@k (held out and on training
lists). ``stage.json`` is written only once everything else is, so its presence means the
stage is complete (a resumed run does not redo it).

Memory per step: ``rss_start_mb`` / ``rss_peak_mb`` are the process's resident set size
at the start and its peak during the step, sampled every 5 ms by a background thread
(Linux ``/proc/self/statm``; a spike shorter than that can be missed),
``rss_increase_mb`` their difference; ``max_rss_mb`` is the process's high-water mark
(``getrusage``) after the step; on CUDA, ``cuda_peak_mb`` is the peak of allocated memory
during the step.
"""

from __future__ import annotations

import math
import os
import resource
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch

from labelwise import checkpoint as ckpt
from labelwise import rundir
from labelwise.plant.l2r import L2RModel, train_l2r
from labelwise.plant.mig import MigTable, compute_mig, occurrence_matrix
from labelwise.progress import make_progress

if TYPE_CHECKING:
    from labelwise.config import PlantConfig
    from labelwise.data.tokenize import TextTokenizer

STAGE_FILE = rundir.PLANT_STAGE
MIG_DIR = rundir.PLANT_MIG_DIR
L2R_DIR = rundir.PLANT_L2R_DIR
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
_MB = 2.0**20


# --------------------------------------------------------------------------- helpers


class Plantable(Protocol):
    """What the stage plants into: the PLANT head (:class:`labelwise.models.heads.plant.PlantHead`)."""

    num_labels: int
    config: Any  # factor_dim, vocab_size

    def plant(self, l2r: L2RModel) -> None: ...


def special_token_ids(tokenizer: TextTokenizer) -> list[int]:
    """Ids of the special tokens the tokenizer has (padding, ``[CLS]``, ``[SEP]``, ...):
    they occur in every document or mean nothing, so MIG leaves them out."""
    ids = {tokenizer.pad_id, tokenizer.cls_id, tokenizer.sep_id}
    raw = getattr(tokenizer, "_tok", None)
    for tok in SPECIAL_TOKENS:
        idx = raw.token_to_id(tok) if raw is not None else None
        if idx is not None:
            ids.add(int(idx))
    return sorted(ids)


def stage_dir(run_dir: Path) -> Path:
    """``<run>/plant``: where the stage's outputs go."""
    return rundir.plant_dir(run_dir)


def stage_done(run_dir: Path | None) -> bool:
    """True when ``<run>/plant/stage.json`` exists (written last: the stage completed)."""
    return run_dir is not None and (stage_dir(run_dir) / STAGE_FILE).is_file()


def stage_seconds(run_dir: Path) -> float:
    """Wall seconds the run's completed stage took (0 when it has not completed)."""
    if not stage_done(run_dir):
        return 0.0
    return float(ckpt.read_json(stage_dir(run_dir) / STAGE_FILE).get("seconds", 0.0))


def _rss_bytes() -> int | None:
    """Current resident set size of this process (Linux), None where unavailable."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _max_rss_mb() -> float:
    """The process's peak resident set size so far, in MiB (``ru_maxrss``)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / _MB if sys.platform == "darwin" else peak / 1024.0  # bytes on macOS, KiB else


@contextmanager
def measure(name: str, into: dict[str, dict[str, float]], device: torch.device | None = None,
            interval: float = 0.005) -> Iterator[None]:
    """Time a step and sample its memory (see the module docstring); the figures go to
    ``into[name]``."""
    start = _rss_bytes()
    peak = [start or 0]
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(interval):
            now = _rss_bytes()
            if now is not None and now > peak[0]:
                peak[0] = now

    thread = threading.Thread(target=poll, daemon=True) if start is not None else None
    if thread is not None:
        thread.start()
    cuda = device is not None and device.type == "cuda" and torch.cuda.is_available()
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.perf_counter()
    try:
        yield
    finally:
        if cuda:
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - t0
        stop.set()
        if thread is not None:
            thread.join()
        row: dict[str, float] = {"seconds": seconds}
        end = _rss_bytes()
        if start is not None:
            top = max(peak[0], end or 0)
            row.update(rss_start_mb=start / _MB, rss_peak_mb=top / _MB,
                       rss_increase_mb=(top - start) / _MB)
        row["max_rss_mb"] = _max_rss_mb()
        if cuda:
            row["cuda_peak_mb"] = torch.cuda.max_memory_allocated(device) / _MB
        into[name] = row


def _targets_matrix(y_train: np.ndarray, num_docs: int, num_labels: int) -> np.ndarray:
    """(N, L) 0/1 targets: multi-hot as given, or one-hot from (N,) class ids."""
    y = np.asarray(y_train)
    if y.ndim == 1:
        if y.size and (y.min() < 0 or y.max() >= num_labels):
            raise ValueError(f"class ids must lie in [0, {num_labels})")
        onehot = np.zeros((len(y), num_labels), dtype=np.float32)
        onehot[np.arange(len(y)), y.astype(np.int64)] = 1.0
        y = onehot
    if y.shape != (num_docs, num_labels):
        raise ValueError(
            f"targets of shape {y.shape} do not match {num_docs} documents x {num_labels} "
            "labels (the head's)"
        )
    return y


def _finite_or_none(x: float) -> float | None:
    return x if isinstance(x, float) and math.isfinite(x) else None


# --------------------------------------------------------------------------- the stage


def plant_stage(
    head: Plantable,
    tokenizer: TextTokenizer,
    train_token_docs: Sequence[Sequence[int]],
    y_train: np.ndarray,
    cfg: PlantConfig,
    run_dir: Path | None = None,
    seed: int = 0,
    progress: bool = False,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """MIG, L2R and planting for the PLANT head of ``model`` (see the module docstring).

    Args:
        head: the PLANT head to plant into.
        tokenizer: the run's tokenizer (vocabulary size and special tokens).
        train_token_docs: one list of token ids per training document (a chunked
            document's chunks concatenated).
        y_train: (N, L) multi-hot targets, or (N,) class ids (made one-hot).
        cfg: the ``plant`` section.
        run_dir: where to write ``plant/mig``, ``plant/l2r`` and ``plant/stage.json``;
            None writes nothing.
        seed: seeds the L2R model (its initialisation, held-out split and negatives).
        progress: show a progress bar for MIG and a line per L2R epoch.
        device: where the L2R model trains.

    Returns:
        What ``stage.json`` holds: ``steps`` (per step ``seconds`` and memory, in MiB),
        ``seconds`` (total), ``mig`` (table size), ``l2r`` (NDCG@k per epoch and final,
        ``heldout_ndcg`` the held-out one; None when nothing was held out) and the
        settings.

    Raises:
        ValueError: factor dimensions or vocabulary sizes that disagree, or targets that
            do not match the documents and labels.
    """
    if cfg.factor_dim != head.config.factor_dim:
        raise ValueError(
            f"plant.factor_dim ({cfg.factor_dim}) != the head's factor_dim "
            f"({head.config.factor_dim}); they must be equal"
        )
    vocab = tokenizer.vocab_size
    if vocab > head.config.vocab_size:
        raise ValueError(
            f"the tokenizer has {vocab} tokens but the head's vocab_size is "
            f"{head.config.vocab_size}; leave model.head.vocab_size unset (it follows the "
            "tokenizer) or make it at least the vocabulary size"
        )
    dev = torch.device(device)
    num_labels = head.num_labels
    y = _targets_matrix(y_train, len(train_token_docs), num_labels)
    steps: dict[str, dict[str, float]] = {}
    t_all = time.perf_counter()

    with measure("occurrence", steps):
        occurrence = occurrence_matrix(train_token_docs, vocab, special_token_ids(tokenizer))
    with make_progress(progress) as bar, measure("mig", steps):
        task = bar.add_task("PLANT: MIG", total=num_labels, info="")
        table = compute_mig(
            occurrence, y, top_n=cfg.top_n, label_chunk=cfg.label_chunk,
            positive_only=cfg.positive_only,
            progress=lambda done, _total: bar.update(task, completed=done),
        )
    del occurrence
    with measure("l2r", steps, dev):
        l2r, l2r_metrics = train_l2r(
            table, factor_dim=cfg.factor_dim, epochs=cfg.l2r_epochs, lr=cfg.l2r_lr,
            k=cfg.l2r_k, sigma=cfg.sigma, negatives=cfg.negatives, seed=seed,
            valid_fraction=cfg.l2r_valid_fraction, num_grades=cfg.grades, device=dev,
            progress=progress,
        )
    with measure("plant", steps):
        head.plant(l2r)

    lengths = table.row_lengths()
    heldout = l2r_metrics["heldout_ndcg"]
    train_ndcg = l2r_metrics["train_ndcg"]
    result: dict[str, Any] = {
        "format": "labelwise.plant.stage",
        "format_version": 1,
        "num_docs": len(train_token_docs),
        "num_labels": num_labels,
        "vocab_size": vocab,
        "mig": {
            "nnz": table.nnz,
            "labels_with_tokens": int((lengths > 0).sum()),
            "mean_tokens_per_label": float(lengths.mean()) if lengths.size else 0.0,
        },
        "l2r": {
            "k": int(l2r_metrics["k"]),
            "num_lists": int(l2r_metrics["num_lists"]),
            "num_heldout_lists": int(l2r_metrics["num_heldout_lists"]),
            "heldout_ndcg": _finite_or_none(heldout[-1]) if heldout else None,
            "train_ndcg": _finite_or_none(train_ndcg[-1]) if train_ndcg else None,
            "initial_heldout_ndcg": _finite_or_none(l2r_metrics["initial_heldout_ndcg"]),
            "initial_train_ndcg": _finite_or_none(l2r_metrics["initial_train_ndcg"]),
            "loss": list(l2r_metrics["loss"]),
            "heldout_ndcg_per_epoch": list(heldout),
            "train_ndcg_per_epoch": list(train_ndcg),
        },
        "settings": {**cfg.model_dump(), "seed": seed, "device": str(dev)},
    }
    if run_dir is not None:
        out = stage_dir(run_dir)
        with measure("save", steps):
            table.save(out / MIG_DIR)
            l2r.cpu().save(out / L2R_DIR)
    result["steps"] = steps
    result["seconds"] = time.perf_counter() - t_all
    if run_dir is not None:
        ckpt.write_json(stage_dir(run_dir) / STAGE_FILE, result)  # last: marks completion
    return result


def load_stage(run_dir: Path) -> tuple[MigTable, L2RModel, dict[str, Any]]:
    """The MIG table, L2R model and ``stage.json`` of a run's completed stage."""
    out = stage_dir(run_dir)
    info = ckpt.read_json(out / STAGE_FILE)
    return MigTable.load(out / MIG_DIR), L2RModel.load(out / L2R_DIR), dict(info)


def replant(head: Plantable, run_dir: Path) -> dict[str, Any]:
    """Plant ``head`` from a run's saved L2R model (no MIG, no training): the buffers
    become exactly those of the run's first planting. Returns ``stage.json``."""
    out = stage_dir(run_dir)
    info = ckpt.read_json(out / STAGE_FILE)
    head.plant(L2RModel.load(out / L2R_DIR))
    return dict(info)
