"""Where training reports go: JSON Lines and TensorBoard."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from labelwise import rundir


class RunLogger:
    """Appends one JSON object per event to ``log.jsonl`` and mirrors scalars to TensorBoard."""

    def __init__(self, run_dir: Path | None, tensorboard: bool = True) -> None:
        self.path = None if run_dir is None else run_dir / rundir.LOG
        self._tb: Any = None
        if run_dir is not None and tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(log_dir=str(run_dir / rundir.TENSORBOARD_DIR))
            except ImportError:  # tensorboard is optional at run time
                self._tb = None

    def log(self, kind: str, step: int, values: dict[str, Any]) -> None:
        if self.path is not None:
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"event": kind, "step": step, **values}) + "\n")
                fh.flush()
        if self._tb is not None:
            for k, v in values.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    self._tb.add_scalar(f"{kind}/{k}", v, step)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
