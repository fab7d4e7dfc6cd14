"""Plugins: a package installed beside labelwise adds components through the
``labelwise.plugins`` entry-point group; ``labelwise list`` shows them and configs use them.
A tiny plugin package is installed into a folder of its own (module + ``.dist-info`` with
its entry points, what pip writes) and put on the path of the processes the test starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PLUGIN = '''
"""labelwise-example-plugin: the 'colon' format, one 'label: text' line a document."""
from labelwise.registry import FORMATS
from labelwise.types import Example


@FORMATS.register("colon")
def read_colon(path, *, require_labels=True):
    """One 'label: text' line a document (an example plugin)."""
    with open(path, encoding="utf-8") as fh:
        for i, line in enumerate(fh, 1):
            if line.strip():
                label, _, text = line.partition(":")
                yield Example(text.strip(), (label.strip(),), f"{path}:{i}")
'''


def _install(root: Path, name: str, module: str, code: str) -> None:
    """What pip leaves in site-packages: the module, and its dist-info with entry points."""
    (root / f"{module}.py").write_text(code, encoding="utf-8")
    info = root / f"{name.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[labelwise.plugins]\n{name} = {module}\n", encoding="utf-8")


def _labelwise(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "labelwise", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_a_plugin_package_adds_a_format_that_list_shows_and_training_reads(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _install(site, "labelwise-example-plugin", "labelwise_example_plugin", PLUGIN)
    listed = _labelwise(site, "list", "formats")
    assert listed.returncode == 0, listed.stderr
    line = next(x for x in listed.stdout.splitlines() if x.strip().startswith("colon"))
    assert "[plugin: labelwise-example-plugin]" in line and "an example plugin" in line
    data = tmp_path / "train.colon"
    words = {"sport": "goal match team", "food": "pasta bread soup", "tech": "code chip compiler"}
    data.write_text("".join(f"{lab}: {text} {i}\n" for i in range(30) for lab, text in words.items()))
    run = tmp_path / "run"
    trained = _labelwise(site, "train", "-o", str(run), "--set", f"data.train={data}", "--set", "data.format=colon",
                         "--set", "model.type=linear", "--set", "model.linear.min_df=1")
    assert trained.returncode == 0, trained.stderr
    assert json.loads((run / "labels.json").read_text())["classes"] == ["food", "sport", "tech"]


def test_a_broken_plugin_is_a_warning_not_a_crash(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _install(site, "labelwise-broken-plugin", "labelwise_broken_plugin", "raise ImportError('needs libfoo')\n")
    listed = _labelwise(site, "list", "formats")
    assert listed.returncode == 0 and "jsonl" in listed.stdout
    assert "labelwise plugin 'labelwise-broken-plugin'" in listed.stderr and "needs libfoo" in listed.stderr
