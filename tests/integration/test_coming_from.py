"""docs/coming-from.md: every row's labelwise snippet runs (read from the document itself,
so the table cannot drift from what works)."""

from __future__ import annotations

import json
import shlex
import warnings
from pathlib import Path
from typing import Any

import pytest

from labelwise import TextClassifier
from tests.integration.test_small_data import TRAIN, _pairs

DOC = Path(__file__).resolve().parents[2] / "docs" / "coming-from.md"


def _snippets() -> list[str]:
    """The first code span of each table row's second cell, header rows aside."""
    rows = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[1].startswith("`"):
            rows.append(cells[1].split("`")[1])
    return rows


SNIPPETS = _snippets()


def test_the_document_has_rows_for_each_tool() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert all(f"## {tool}" in text for tool in ("scikit-learn", "SetFit", "LibMultiLabel"))
    assert len(SNIPPETS) >= 15


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """train.jsonl, test.jsonl, train.txt (multi-label, LibMultiLabel's format) and `run`."""
    from labelwise.cli import main

    root = tmp_path_factory.mktemp("coming-from")
    texts, labels = _pairs(TRAIN)
    rows = [{"text": t, "labels": [y]} for t, y in zip(texts, labels, strict=True)]
    (root / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[::3]))
    (root / "train.txt").write_text("".join(f"{y}{' evening' if 'tonight' in t else ''}\t{t}\n"
                                            for t, y in zip(texts, labels, strict=True)))
    assert main(["train", "-o", str(root / "run"), "--set", f"data.train={root / 'train.jsonl'}",
                 "--set", "model.encoder={name: cnn, embed_dim: 8, num_filters: 4, kernel_sizes: [2]}",
                 "--set", "tokenizer.vocab_size=200", "--set", "train.epochs=1", "--set", "train.progress=false"]) == 0
    return root


@pytest.mark.parametrize("snippet", SNIPPETS)
def test_each_row_runs(snippet: str, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(workdir)
    if snippet.startswith("labelwise "):
        from labelwise.cli import main

        assert main(shlex.split(snippet)[1:]) == 0, snippet
        return
    import pandas as pd
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV, cross_val_score

    texts, labels = _pairs(TRAIN)
    namespace: dict[str, Any] = {
        "TextClassifier": TextClassifier, "GridSearchCV": GridSearchCV, "cross_val_score": cross_val_score,
        "clone": clone, "texts": texts, "labels": labels, "df": pd.DataFrame({"text": texts, "labels": labels}),
        "multi": [[y, "evening"] if "tonight" in t else [y] for t, y in zip(texts, labels, strict=True)],
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # small validation splits: expected here
        eval(compile(snippet, "<coming-from.md>", "eval"), namespace)  # noqa: S307 (our own document)
