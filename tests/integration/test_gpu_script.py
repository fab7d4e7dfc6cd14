"""benchmarks/gpu/full_size.py: the GPU rows' script, checked on the CPU at a toy size."""

from __future__ import annotations

import gzip
import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("full_size", ROOT / "benchmarks" / "gpu" / "full_size.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["full_size"] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def test_dry_run_lists_every_row_with_its_seeds(capsys, tmp_path: Path) -> None:
    mod = _script()
    assert mod.main(["--dry-run", "--out", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    # 4 IMDB and 2 GoEmotions rows with 3 seeds each, 2 EURLEX57K rows with one
    assert len(lines) == 4 * 3 + 2 * 3 + 2
    assert all("--tag gpu" in line for line in lines)
    assert sum("plant-minilm" in line for line in lines) == 1
    # every row's system is a benchmark config that composes with its dataset
    from labelwise.components import load_config

    for row in mod.ROWS:
        load_config([ROOT / f"configs/bench/datasets/{row.dataset}.yaml",
                     ROOT / f"configs/bench/systems/{row.system}.yaml"], list(row.sets))


def _write(folder: Path, rows: list[tuple[str, list[str]]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "valid", "test"):
        with gzip.open(folder / f"{split}.jsonl.gz", "wt") as fh:
            for text, labels in rows:
                fh.write(json.dumps({"text": text, "labels": labels}) + "\n")


@pytest.mark.slow
def test_tiny_run_trains_every_row_on_the_cpu(tmp_path: Path) -> None:
    words = "good bad plot actor law court trade fish farm tax vote joy anger fear".split()
    data = tmp_path / "data"
    docs = [" ".join(words[(i * 7 + j) % len(words)] for j in range(12)) for i in range(40)]
    _write(data / "imdb", [(d, ["pos" if i % 2 else "neg"]) for i, d in enumerate(docs)])
    (data / "imdb" / "valid.jsonl.gz").unlink()  # IMDB has none: held out of train
    _write(data / "goemotions", [(d, [["joy"], ["anger", "fear"], ["neutral"]][i % 3]) for i, d in enumerate(docs)])
    _write(data / "eurlex57k", [(d, [f"L{i % 7}", f"L{i % 5 + 7}"]) for i, d in enumerate(docs)])
    # the catalog's other files of these datasets (unused by these rows) must be there
    for name in ("imdb/unsup.jsonl.gz", "goemotions/labels_hierarchy.tsv", "goemotions/labels_hierarchy_ekman.tsv",
                 "goemotions/labels.txt", "eurlex57k/labels_hierarchy.tsv", "eurlex57k/labels.tsv"):
        (data / name).touch()
    out = tmp_path / "out"
    mod = _script()
    code = mod.main(["--tiny", "--jobs", "1", "--out", str(out), "--data-dir", str(data)])
    summary = json.loads((out / "gpu" / "summary.json").read_text())
    assert code == 0, summary
    assert [r["status"] for r in summary["rows"]] == ["done"] * len(mod.ROWS)
    primary = {"imdb": "accuracy", "goemotions": "micro_f1", "eurlex57k": "p@5"}
    for row in mod.ROWS:
        result = json.loads((out / f"{row.dataset}__{row.system}@gpu.json").read_text())
        assert result["seeds"] == [13] and result["variant"] == "gpu"
        assert 0.0 <= result["metrics"][primary[row.dataset]] <= 1.0
