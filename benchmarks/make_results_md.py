"""Rebuild the generated tables of benchmarks/RESULTS.md from benchmarks/results/*.json.

Only the text between the ``<!-- results:begin -->`` and ``<!-- results:end -->`` markers
is replaced; the notes around it are kept.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
MD = ROOT / "benchmarks" / "RESULTS.md"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
COLUMNS = {
    "goemotions": ["micro_f1", "macro_f1", "f1_head", "f1_medium", "f1_tail"],
    "sst2": ["accuracy", "macro_f1"],
    "20newsgroups": ["accuracy", "macro_f1"],
}
ORDER = ["linear-tfidf", "labelwise:cnn", "labelwise:bilstm", "labelwise:transformer",
         "labelwise:pretrained-frozen"]


def cell(r: dict, name: str) -> str:
    v = r["metrics"].get(name)
    if v is None:
        return "-"
    std = (r.get("metrics_std") or {}).get(name)
    return f"{100 * v:.2f}" + (f" ± {100 * std:.2f}" if std is not None else "")


def table(dataset: str, rows: list[dict]) -> str:
    cols = COLUMNS.get(dataset, sorted(rows[0]["metrics"]))
    head = ["system", *cols, "seeds", "train s", "test docs/s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    rows = sorted(rows, key=lambda r: ORDER.index(r["system"]) if r["system"] in ORDER else 99)
    for r in rows:
        vals = [cell(r, c) for c in cols]
        lines.append("| " + " | ".join([
            r["system"], *vals, str(len(r["seeds"])), f"{r['train_seconds']:.0f}",
            f"{r.get('test_docs_per_second', 0):.0f}"]) + " |")
    cmds = sorted({r["command"] for r in rows})
    return (f"### {dataset}\n\n" + "\n".join(lines) + "\n\nCommands:\n\n"
            + "\n".join(f"- `{c}`" for c in cmds) + "\n")


def main() -> None:
    by_ds: dict[str, list[dict]] = {}
    for f in sorted(RESULTS.glob("*.json")):
        r = json.loads(f.read_text())
        by_ds.setdefault(r["dataset"], []).append(r)
    devices = sorted({r["device"] for rs in by_ds.values() for r in rs})
    body = ("Metrics in percent on the test split, mean ± standard deviation over seeds "
            "(no ± where one seed ran). Device: " + "; ".join(devices) + ".\n\n"
            + "\n".join(table(ds, by_ds[ds]) for ds in COLUMNS if ds in by_ds))
    text = MD.read_text() if MD.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    pre, _, rest = text.partition(BEGIN)
    _, _, post = rest.partition(END)
    MD.write_text(pre + BEGIN + "\n" + body + END + post)


if __name__ == "__main__":
    main()
