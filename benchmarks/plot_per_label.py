"""Per-label test F1 against training frequency, one line per system (the contrastive-losses topic's plot).

Reads rows recorded with ``run_baselines.py --per-label`` (F1 averaged over their seeds).

    python benchmarks/plot_per_label.py --dataset goemotions --systems loss-bce loss-abalone
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from labelwise.plots import plot_per_label_f1

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="goemotions")
    p.add_argument("--systems", nargs="+", required=True)
    p.add_argument("--results", default=str(ROOT / "benchmarks" / "results"))
    p.add_argument("--out", help="PNG path (default benchmarks/results/<dataset>_per_label_f1.png)")
    args = p.parse_args(argv)
    f1s, counts = {}, None
    for system in args.systems:
        path = Path(args.results) / f"{args.dataset}__{system}.json"
        r = json.loads(path.read_text())
        rows = [f for f in r.get("per_label_f1_per_seed", []) if f]
        if not rows:
            print(f"{path}: no per-label F1 (run with --per-label); skipped", file=sys.stderr)
            continue
        f1s[system.removeprefix("loss-")] = np.mean(rows, axis=0)
        counts = np.asarray(r["label_train_counts"])
    if counts is None:
        print("nothing to plot", file=sys.stderr)
        return 1
    out = Path(args.out or Path(args.results) / f"{args.dataset}_per_label_f1.png")
    plot_per_label_f1(counts, f1s, out, title=f"{args.dataset}: per-label test F1 against training frequency")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
