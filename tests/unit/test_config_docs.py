"""docs/config.md is generated from the code: a key added without regenerating it fails here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_config_reference_is_up_to_date() -> None:
    out = subprocess.run([sys.executable, str(REPO / "docs" / "gen_config_reference.py")],
                         cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out == (REPO / "docs" / "config.md").read_text(), (
        "docs/config.md is stale: run .venv/bin/python docs/gen_config_reference.py > docs/config.md"
    )
