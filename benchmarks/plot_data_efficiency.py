"""PLANT against LANT by training-set fraction (issue 5's data-efficiency curve).

Reads ``<results>/<dataset>__<system>@frac<F>.json`` rows (``run_baselines.py --tag
fracF``) and the full-data rows ``<dataset>__<system>.json`` (fraction 1), and writes

- ``<results>/<dataset>_data_efficiency.png``: P@5 and nDCG@5, overall and on the few-shot
  labels, against the fraction (log scale), mean with a bar of one standard deviation
  over seeds;
- a Markdown table on stdout (mean ± std, number of seeds), for RESULTS.md.

    python benchmarks/plot_data_efficiency.py --dataset eurlex57k --systems lant plant
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
METRICS = ["p@5", "ndcg@5", "fewshot_p@5", "fewshot_ndcg@5"]


def load_rows(results: Path, dataset: str, system: str) -> dict[float, dict]:
    """Rows of one system keyed by training fraction (1.0 for the untagged row)."""
    rows: dict[float, dict] = {}
    full = results / f"{dataset}__{system}.json"
    if full.is_file():
        rows[1.0] = json.loads(full.read_text())
    for path in results.glob(f"{dataset}__{system}@frac*.json"):
        match = re.fullmatch(rf"{re.escape(dataset)}__{re.escape(system)}@frac([0-9.]+)\.json", path.name)
        if match:
            rows[float(match.group(1))] = json.loads(path.read_text())
    return dict(sorted(rows.items()))


def stat(row: dict, metric: str) -> tuple[float, float]:
    """Mean and standard deviation (0 with one seed) of ``metric`` in a result row."""
    mean = row["metrics"].get(metric, float("nan"))
    std = (row.get("metrics_std") or {}).get(metric) or 0.0
    return float(mean), float(std)


def markdown(data: dict[str, dict[float, dict]]) -> str:
    fracs = sorted({f for rows in data.values() for f in rows})
    head = ["system", "fraction", *METRICS, "seeds"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for frac in fracs:
        for system, rows in data.items():
            if frac not in rows:
                continue
            row = rows[frac]
            cells = []
            for m in METRICS:
                mean, std = stat(row, m)
                cells.append(f"{100 * mean:.2f}" + (f" ± {100 * std:.2f}" if len(row["seeds"]) > 1 else ""))
            lines.append(f"| {system} | {frac:g} | " + " | ".join(cells) + f" | {len(row['seeds'])} |")
    return "\n".join(lines)


def plot(data: dict[str, dict[float, dict]], dataset: str, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(METRICS), figsize=(4 * len(METRICS), 3.6))
    for ax, metric in zip(axes, METRICS, strict=True):
        for system, rows in data.items():
            fracs = list(rows)
            stats = [stat(rows[f], metric) for f in fracs]
            ax.errorbar([100 * f for f in fracs], [100 * m for m, _ in stats],
                        yerr=[100 * s for _, s in stats], marker="o", capsize=3, label=system)
        ax.set_xscale("log")
        ticks = sorted({100 * f for rows in data.values() for f in rows})
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel("training documents (%)")
        ax.set_title(metric)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("test score (%)")
    axes[0].legend()
    fig.suptitle(f"{dataset}: planted vs learned attention by training-set size")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="eurlex57k")
    p.add_argument("--systems", nargs="+", default=["lant", "plant"])
    p.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    args = p.parse_args(argv)
    data = {s: load_rows(args.results, args.dataset, s) for s in args.systems}
    data = {s: rows for s, rows in data.items() if rows}
    if not data:
        print(f"no results for {args.dataset} {args.systems} in {args.results}", file=sys.stderr)
        return 1
    out = args.results / f"{args.dataset}_data_efficiency.png"
    plot(data, args.dataset, out)
    print(markdown(data))
    print(f"\nplot: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
