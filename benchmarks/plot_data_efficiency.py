"""Systems compared by training-set fraction: PLANT against LANT (the EURLEX57K
data-efficiency curve), one MLCL head against one per level (the MLCL low-data grid).

Reads ``<results>/<dataset>__<system>@frac<F>.json`` rows (``run_baselines.py --tag
fracF``) and the full-data rows ``<dataset>__<system>.json`` (fraction 1), and writes

- ``<results>/<dataset>_data_efficiency.png``: the ``--metrics`` (by default P@5 and nDCG@5,
  overall and on the few-shot labels) against the fraction (log scale), mean with a bar of
  one standard deviation over seeds;
- a Markdown table on stdout (mean ± std, number of seeds), for RESULTS.md; with two
  systems also the second minus the first, per fraction, over the seeds both have.

    python benchmarks/plot_data_efficiency.py --dataset eurlex57k --systems lant plant
    python benchmarks/plot_data_efficiency.py --dataset 20newsgroups-hier \
        --systems mlcl-single mlcl-levels --metrics level2_accuracy micro_f1 macro_f1
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


def markdown(data: dict[str, dict[float, dict]], metrics: list[str]) -> str:
    fracs = sorted({f for rows in data.values() for f in rows})
    head = ["system", "fraction", *metrics, "seeds"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for frac in fracs:
        for system, rows in data.items():
            if frac not in rows:
                continue
            row = rows[frac]
            cells = []
            for m in metrics:
                mean, std = stat(row, m)
                cells.append(f"{100 * mean:.2f}" + (f" ± {100 * std:.2f}" if len(row["seeds"]) > 1 else ""))
            lines.append(f"| {system} | {frac:g} | " + " | ".join(cells) + f" | {len(row['seeds'])} |")
    return "\n".join(lines)


def seed_metric(row: dict, seed: int, metric: str) -> float | None:
    """One seed's value of ``metric`` (``metrics_per_seed`` of a run_baselines row), if recorded."""
    for s, metrics in zip(row["seeds"], row.get("metrics_per_seed") or [], strict=False):
        if int(s) == seed:
            v = metrics.get(metric)
            return None if v is None else float(v)
    return None


def difference(data: dict[str, dict[float, dict]], metrics: list[str],
               pair: tuple[str, str] | None = None) -> str:
    """Markdown: system b minus system a (``pair``; default the second minus the first of
    two), per fraction, mean ± std of the paired per-seed differences (the seeds both rows
    have; population std, as the rows), in points."""
    name_a, name_b = pair or tuple(data)
    rows_a, rows_b = data[name_a], data[name_b]
    head = ["fraction", *[f"{m}: {name_b} - {name_a}" for m in metrics], "paired seeds"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for frac in sorted(set(rows_a) & set(rows_b)):
        a, b = rows_a[frac], rows_b[frac]
        seeds = sorted(set(a["seeds"]) & set(b["seeds"]))
        cells = []
        for m in metrics:
            diffs = [100 * (vb - va) for s in seeds
                     if (va := seed_metric(a, s, m)) is not None and (vb := seed_metric(b, s, m)) is not None]
            if not diffs:
                cells.append("-")
                continue
            mean = sum(diffs) / len(diffs)
            std = (sum((d - mean) ** 2 for d in diffs) / len(diffs)) ** 0.5
            cells.append(f"{mean:+.2f}" + (f" ± {std:.2f}" if len(diffs) > 1 else ""))
        lines.append(f"| {frac:g} | " + " | ".join(cells) + f" | {len(seeds)} |")
    return "\n".join(lines)


def plot(data: dict[str, dict[float, dict]], dataset: str, out: Path, metrics: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(metrics), figsize=(4 * len(metrics), 3.6), squeeze=False)
    axes = axes[0]
    for ax, metric in zip(axes, metrics, strict=True):
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
    fig.suptitle(f"{dataset}: {' vs '.join(data)} by training-set size")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="eurlex57k")
    p.add_argument("--systems", nargs="+", default=["lant", "plant"])
    p.add_argument("--metrics", nargs="+", default=METRICS)
    p.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    p.add_argument("--pairs", nargs="+", default=[], metavar="A:B",
                   help="paired differences to print, B minus A (default with two systems: second minus first)")
    p.add_argument("--no-plot", action="store_true",
                   help="print the tables only (e.g. for more --metrics than the plot should show)")
    args = p.parse_args(argv)
    pairs = [tuple(x.split(":", 1)) for x in args.pairs]
    for a_b in pairs:
        if len(a_b) != 2 or not set(a_b) <= set(args.systems):
            p.error(f"--pairs {':'.join(a_b)}: expected A:B with both among --systems")
    data = {s: load_rows(args.results, args.dataset, s) for s in args.systems}
    data = {s: rows for s, rows in data.items() if rows}
    if not data:
        print(f"no results for {args.dataset} {args.systems} in {args.results}", file=sys.stderr)
        return 1
    out = args.results / f"{args.dataset}_data_efficiency.png"
    if not args.no_plot:
        plot(data, args.dataset, out, args.metrics)
    print(markdown(data, args.metrics))
    if not pairs and len(data) == 2:
        pairs = [tuple(data)]
    for a, b in pairs:
        if a in data and b in data:
            print("\n" + difference(data, args.metrics, (a, b)))
    if not args.no_plot:
        print(f"\nplot: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
