"""Settings for the whole suite.

``train.precision: auto`` computes in bf16 on a CPU with native bf16 and in float32
elsewhere, so tests that compare numbers across code paths (the ONNX graph against PyTorch,
two processes against one, cached features against the encoder) would pass or fail by
machine. The suite runs ``auto`` in float32 everywhere (``LABELWISE_NATIVE_BF16=0``, read by
:mod:`labelwise.models.precision`, inherited by the processes tests start); the bf16 path is
tested explicitly (``tests/unit/test_precision.py``). Set ``LABELWISE_NATIVE_BF16=1`` before
pytest to run ``auto`` in bf16 instead.
"""

from __future__ import annotations

import os

os.environ.setdefault("LABELWISE_NATIVE_BF16", "0")
