"""The run directory: every file name in it, in one place.

A run directory is the checkpoint. Every file is written atomically
(:mod:`labelwise.checkpoint`); nothing is pickled. Layout::

    run.json            format version, labelwise version, backend, task, status, and the
                        sha256 of each file of WEIGHT_FILES (checked when the run is loaded)
    config.yaml         the resolved configuration
    labels.json         the label space (classes, counts, hierarchy)
    group_counts.json   (a run on part of the training set) the whole set's label counts
    decode.json         thresholds chosen on validation, metric names, training summary
    metrics.json        validation and test metrics of ``labelwise train``
    tokenizer.json      (neural) the tokenizer
    model.safetensors   (neural) the best weights
    trainer_state.json + checkpoints/step-N/{best,last,optimizer,loss_state}.safetensors
                        (neural) the loop's state, to resume
    pretrain/           (neural, with a pre-training stage) its own trainer state and checkpoints
    shortlist/          (neural, model.shortlist) the linear model proposing each document's labels
    plant/              (PLANT head) stage.json, mig/ and l2r/: the stage before training
    linear.safetensors, linear.json   (linear backend) the TF-IDF model
    fusion.json, members/<i>/         (fusion backend) the weights and temperatures, and
                        each member's own complete run directory
    log.jsonl, tb/      training log and TensorBoard events
    README.md           the model card (labelwise.card)

Modules that write these files take their names from here.
"""

from __future__ import annotations

import json
from pathlib import Path

RUN_INFO = "run.json"
CONFIG = "config.yaml"
LABELS = "labels.json"
GROUP_COUNTS = "group_counts.json"
DECODE = "decode.json"
METRICS = "metrics.json"
TOKENIZER = "tokenizer.json"
WEIGHTS = "model.safetensors"
TRAINER_STATE = "trainer_state.json"
CHECKPOINTS = "checkpoints"
PRETRAIN_DIR = "pretrain"
PLANT_DIR = "plant"
SHORTLIST_DIR = "shortlist"
PLANT_STAGE = "stage.json"  # in PLANT_DIR, written last: the stage completed
PLANT_MIG_DIR = "mig"  # in PLANT_DIR
PLANT_L2R_DIR = "l2r"  # in PLANT_DIR
LINEAR_TENSORS = "linear.safetensors"
LINEAR_META = "linear.json"
FUSION = "fusion.json"
MEMBERS_DIR = "members"
LOG = "log.jsonl"
MODEL_CARD = "README.md"
# what a trained model is read from: run.json records their sha256 when the run is saved
WEIGHT_FILES = (WEIGHTS, TOKENIZER, LINEAR_TENSORS, LINEAR_META, FUSION,
                f"{SHORTLIST_DIR}/{LINEAR_TENSORS}", f"{SHORTLIST_DIR}/{LINEAR_META}")
TENSORBOARD_DIR = "tb"


def run_state(path: Path) -> str:
    """What ``path`` holds, for deciding whether a run there may start, resume or restart:

    - ``"empty"``: nothing (or only the temporary files of an interrupted atomic write);
    - ``"foreign"``: files, but no ``run.json``: not a labelwise run directory;
    - ``"complete"``: a finished run;
    - ``"resumable"``: an unfinished run with a checkpoint (of the training loop, of a
      pre-training stage, a completed PLANT stage, or a fusion's finished member);
    - ``"started"``: an unfinished run killed before its first checkpoint: nothing to keep.
    """
    path = Path(path)
    if not path.is_dir() or not any(not _is_temporary(p) for p in path.iterdir()):
        return "empty"
    if not is_run_dir(path):
        return "foreign"
    try:
        status = json.loads((path / RUN_INFO).read_text(encoding="utf-8")).get("status")
    except (ValueError, AttributeError, OSError):
        status = None
    if status == "complete":
        return "complete"
    return "resumable" if has_checkpoint(path) else "started"


def has_checkpoint(path: Path) -> bool:
    """Whether ``path`` holds anything ``--resume`` continues from: the training loop's
    checkpoint, a pre-training stage's, or a completed PLANT stage. (A complete run may
    too: one stopped by ``train.max_steps`` continues with a higher limit.)"""
    return (has_trainer_state(path) or has_trainer_state(pretrain_dir(path))
            or (plant_dir(path) / PLANT_STAGE).is_file() or bool(complete_members(path)))


def member_dir(path: Path, index: int) -> Path:
    """Where a fusion run keeps its member ``index`` (a run directory of its own)."""
    return Path(path) / MEMBERS_DIR / str(index)


def complete_members(path: Path) -> list[Path]:
    """The member runs of a fusion run in ``path`` that finished training."""
    root = Path(path) / MEMBERS_DIR
    if not root.is_dir():
        return []
    return [m for m in sorted(root.iterdir()) if run_state(m) == "complete"]


def _is_temporary(p: Path) -> bool:
    return p.name.startswith(".") and p.name.endswith((".tmp", ".part"))


def is_run_dir(path: Path) -> bool:
    """Whether ``path`` holds a labelwise run (its ``run.json``)."""
    return (Path(path) / RUN_INFO).is_file()


def has_trainer_state(path: Path | None) -> bool:
    """Whether ``path`` holds a training loop's checkpoint to resume from."""
    return path is not None and (Path(path) / TRAINER_STATE).is_file()


def pretrain_dir(run_dir: Path) -> Path:
    """Where a pre-training stage checkpoints."""
    return Path(run_dir) / PRETRAIN_DIR


def plant_dir(run_dir: Path) -> Path:
    """Where the PLANT stage writes its outputs."""
    return Path(run_dir) / PLANT_DIR
