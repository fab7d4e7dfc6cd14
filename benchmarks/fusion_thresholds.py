"""One threshold against one per label for a trained multi-label run, on its validation split.

The run's validation scores are cut into two seeded halves; thresholds are tuned on one and
measured on the other, both ways, and averaged (as ``linear_defaults.py`` does). Used to
choose ``presets.FUSION_MULTILABEL_THRESHOLDS``; never reads a test split.

    python benchmarks/fusion_thresholds.py runs/bench/goemotions-preset-best-s13 --dataset goemotions
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from linear_defaults import _measure, _split_halves  # noqa: E402

from labelwise import TextClassifier  # noqa: E402
from labelwise.components import load_config  # noqa: E402
from labelwise.runner import load_run_data  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run")
    p.add_argument("--dataset", required=True, help="its config in configs/bench/datasets/")
    p.add_argument("--seed", type=int, default=13)
    args = p.parse_args(argv)
    clf = TextClassifier.load(args.run)
    cfg = load_config([ROOT / f"configs/bench/datasets/{args.dataset}.yaml"], [f"train.seed={args.seed}"])
    valid = load_run_data(cfg, with_test=False).valid
    y = clf.labels_.encode_many(valid)
    scores = clf.predict_proba([e.text for e in valid])
    halves = _split_halves(len(valid), args.seed)
    for rule in ("global", "per_label"):
        m = _measure(clf, clf.config_, ["micro_f1", "macro_f1"], scores, y, rule, halves)
        print(rule, {k: round(100 * v, 2) for k, v in m.items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
