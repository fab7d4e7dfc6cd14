"""``make demo``: GoEmotions (28 labels, multi-label) with the fast preset (which says what
it chose: the tuned TF-IDF linear model) beside a small CNN; prints a metrics table, plots
per-label F1 against label frequency, and writes each run's report page and model card."""

from __future__ import annotations

import argparse
from pathlib import Path

from labelwise.components import load_config
from labelwise.metrics import per_label_f1
from labelwise.plots import plot_per_label_f1
from labelwise.report import build_report
from labelwise.runner import load_run_data, train_run
from labelwise.table import print_metrics

SYSTEMS = {"preset-fast": "goemotions-fast.yaml", "cnn": "goemotions-cnn.yaml"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--configs", default="configs", help="folder with the demo YAML files")
    p.add_argument("--out", default="runs/demo", help="where the runs and the plot go")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--set", dest="overrides", action="append", default=[])
    args = p.parse_args(argv)
    out = Path(args.out)
    results, f1s = {}, {}
    counts = None
    for system, fname in SYSTEMS.items():
        overrides = list(args.overrides)
        if args.data_dir:
            overrides.append(f"data.data_dir={args.data_dir}")
        cfg = load_config(Path(args.configs) / fname, overrides)
        print(f"== training {system} ({fname})")
        clf, metrics, run_dir = train_run(cfg, out / system, overwrite=True)
        results[f"{system} (test)"] = metrics.get("test", metrics.get("valid", {}))
        print(f"   {system}: {metrics['train_seconds']:.1f}s to train")
        data = load_run_data(cfg)
        test = data.test or data.valid or []
        y = clf.labels_.encode_many(test)
        pred = clf.decide(clf.predict_proba([e.text for e in test]))
        f1s[system] = per_label_f1(pred, y.astype(bool))[0]
        counts = clf.labels_.train_counts
        page = run_dir / "report.html"
        page.write_text(build_report(clf, run_dir, test, "the test split of GoEmotions"), encoding="utf-8")
        print(f"   {system}: report {page}, model card {run_dir / 'README.md'}")
    print_metrics(results, title="GoEmotions test split")
    assert counts is not None
    png = plot_per_label_f1(counts, f1s, out / "per_label_f1.png",
                            title="GoEmotions: per-label F1 against training frequency")
    print(f"plot: {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
