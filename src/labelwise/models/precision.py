"""Computing in bfloat16 where the hardware does it natively, and float32 elsewhere.

On a CPU with native bf16 (``avx512_bf16`` or AMX in ``/proc/cpuinfo``) a bf16 matmul runs
about twice as fast as fp32; on a CPU without it, bf16 is emulated and 10-25x slower. So
``train.precision: auto`` picks bf16 autocast only where the hardware has it (a CUDA device
that supports bf16, or such a CPU), and the model's matmuls run in bf16 under
``torch.autocast`` while its parameters, optimizer state and outputs stay float32.

The environment variable ``LABELWISE_NATIVE_BF16`` (``0`` or ``1``) overrides what the CPU
flags say: ``0`` keeps ``auto`` in float32 on any machine (results that do not depend on the
CPU; the test suite sets it), ``1`` asserts native bf16 where the flags are hidden.
"""

from __future__ import annotations

import contextlib
import functools
import os
from pathlib import Path
from typing import Any

import torch

# /proc/cpuinfo flags of x86 CPUs that compute bf16 natively
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


NATIVE_BF16_ENV = "LABELWISE_NATIVE_BF16"


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively: ``LABELWISE_NATIVE_BF16`` when it is 0 or 1,
    else the CPU's flags (:func:`cpu_flags_have_bf16`)."""
    forced = os.environ.get(NATIVE_BF16_ENV, "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    return cpu_flags_have_bf16()


@functools.cache
def cpu_flags_have_bf16() -> bool:
    """Whether this CPU's flags say it computes bf16 natively (Linux x86: /proc/cpuinfo)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    flags = {f for line in text.splitlines() if line.startswith("flags") for f in line.split(":", 1)[1].split()}
    return any(flag in flags for flag in BF16_CPU_FLAGS)


def resolve_precision(setting: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``train.precision`` on ``device``: bf16, or None for fp32.
    ``auto`` is bf16 only where the hardware computes it natively."""
    if setting == "fp32":
        return None
    if setting == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    return torch.bfloat16 if device.type == "cpu" and cpu_has_native_bf16() else None


def autocast(dtype: torch.dtype | None, device_type: str) -> Any:
    """``torch.autocast`` to ``dtype``, or nothing when ``dtype`` is None (fp32)."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device_type, dtype=dtype)


def precision_name(dtype: torch.dtype | None) -> str:
    return "fp32" if dtype is None else str(dtype).removeprefix("torch.").replace("bfloat16", "bf16")
