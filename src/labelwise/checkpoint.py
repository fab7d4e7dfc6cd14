"""The run directory is the checkpoint. Every file is written atomically; nothing is pickled.

The files of a run directory and their names: :mod:`labelwise.rundir`.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from labelwise import rundir
from labelwise.errors import EXIT_RUN_DIR, UserError
from labelwise.fileio import default_mode, sha256_file, temp_beside

FORMAT_VERSION = 1


class CheckpointError(UserError):
    """A run directory that cannot be read or does not match what loads it."""

    exit_code = EXIT_RUN_DIR


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, fsync, then rename over it.
    A crash leaves either the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_beside(path, ".tmp")
    try:
        try:
            write(tmp)
        except Exception as err:
            raise _as_os_error(err, path) from err
        os.chmod(tmp, default_mode())  # some writers (safetensors) create the file anew, 0600
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _as_os_error(err: Exception, path: Path) -> Exception:
    """A writer's failure as the OSError it reports: the Rust writers (safetensors,
    tokenizers) raise their own types with "os error N" in the message (N=28 for a full disk),
    which would otherwise pass for a bug."""
    if isinstance(err, OSError):
        return err
    found = re.search(r"os error (\d+)", str(err))
    if found is None:
        return err
    code = int(found.group(1))
    return OSError(code, os.strerror(code), str(path))


def write_text(path: str | Path, text: str) -> None:
    def write(p: Path) -> None:
        p.write_text(text, encoding="utf-8")

    atomic_write(path, write)


def _finite(obj: Any) -> Any:
    """NaN and infinities become null: strict JSON has no NaN (an empty bucket has no F1)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def write_json(path: str | Path, obj: Any) -> None:
    write_text(path, json.dumps(_finite(obj), indent=2, sort_keys=False, allow_nan=False) + "\n")


def read_json(path: str | Path) -> Any:
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"'{p}' is missing: is '{p.parent}' a labelwise run directory?")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise CheckpointError(f"'{p}' is not valid JSON ({err}); the run directory is damaged") from None


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor]) -> None:
    flat = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    atomic_write(path, lambda p: save_file(flat, str(p)))


def load_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"weights file '{p}' is missing: the run directory is incomplete")
    try:
        return load_file(str(p))
    except Exception as err:  # safetensors raises its own error types
        raise CheckpointError(f"'{p}' is not a readable safetensors file: {err}") from None


def load_state_checked(module: torch.nn.Module, state: dict[str, torch.Tensor], where: str) -> None:
    """``load_state_dict`` with an error that lists missing, unexpected and mis-shaped keys."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    shapes = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in state and state[k].shape != own[k].shape
    ]
    if missing or extra or shapes:
        parts = []
        if missing:
            parts.append(f"missing keys {missing[:5]}")
        if extra:
            parts.append(f"unexpected keys {extra[:5]}")
        if shapes:
            parts.append("shape mismatches " + "; ".join(shapes[:5]))
        raise CheckpointError(
            f"{where} does not match the model built from its config.yaml ("
            + ", ".join(parts)
            + "). Was the config or labels.json edited, or the weights copied from another run?"
        )
    module.load_state_dict(state)


def optimizer_to_files(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer state into tensors (for safetensors) and JSON-able metadata."""
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, st in sd["state"].items():
        for name, val in st.items():
            if torch.is_tensor(val):
                tensors[f"{pid}.{name}"] = val
            else:
                scalars.setdefault(str(pid), {})[name] = val
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def optimizer_from_files(
    opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, Any]
) -> None:
    state: dict[int, dict[str, Any]] = {}
    for key, val in tensors.items():
        pid, _, name = key.partition(".")
        state.setdefault(int(pid), {})[name] = val
    for pid, vals in meta.get("scalars", {}).items():
        state.setdefault(int(pid), {}).update(vals)
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def clear_run_dir(run_dir: Path) -> None:
    """Delete an old labelwise run directory (one holding run.json) before reuse."""
    import shutil

    if (run_dir / rundir.RUN_INFO).is_file():
        shutil.rmtree(run_dir)


def weight_digests(run_dir: Path) -> dict[str, str]:
    """The sha256 of each weight file of a run (:data:`labelwise.rundir.WEIGHT_FILES`)."""
    return {name: sha256_file(run_dir / name) for name in rundir.WEIGHT_FILES
            if (run_dir / name).is_file()}


def verify_weights(run_dir: Path) -> None:
    """Check the weight files against the digests ``run.json`` recorded when the run was
    saved, so flipped bytes are an error naming the file, not garbage predictions. A run
    saved before digests were recorded is not checked."""
    recorded = read_json(run_dir / rundir.RUN_INFO).get("sha256") or {}
    for name, digest in recorded.items():
        path = run_dir / name
        if not path.is_file():
            raise CheckpointError(f"'{path}' is missing: the run directory is incomplete")
        if sha256_file(path) != digest:
            raise CheckpointError(
                f"'{path}' differs from the file this run saved (its sha256 does not match the "
                "one in run.json): it was changed or damaged. Copy the run directory again, or retrain"
            )


def check_run_info(run_dir: Path) -> dict[str, Any]:
    info = read_json(run_dir / rundir.RUN_INFO)
    version = info.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{run_dir}/run.json has format_version {version!r}; this labelwise reads version "
            f"{FORMAT_VERSION}. Retrain, or use the labelwise version that wrote it "
            f"({info.get('labelwise_version', 'unknown')})."
        )
    return info


def read_versioned_json(path: Path, fmt: str, version: int, what: str) -> dict[str, Any]:
    """Read a JSON metadata file and check its ``format`` and ``format_version`` fields.

    Raises:
        CheckpointError: another format, or a version this labelwise does not read.
    """
    info = read_json(path)
    if info.get("format") != fmt:
        raise CheckpointError(f"'{path}' does not describe {what}")
    if info.get("format_version") != version:
        raise CheckpointError(
            f"'{path.parent}': {what} format {info.get('format_version')} is not supported "
            f"(expected {version})"
        )
    return info
