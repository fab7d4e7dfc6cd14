#!/usr/bin/env bash
# Issue 4 runs (contrastive losses, MLCL low data), cheapest first; rows keep seeds
# recorded earlier, so the plan can be stopped and re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
run() { $PY benchmarks/run_baselines.py "$@"; $PY benchmarks/make_results_md.py; }
LOSSES="loss-bce loss-focal loss-asl loss-supcon loss-jaccard loss-abalone"
ABLATIONS="loss-abalone-noqueue loss-abalone-noproto loss-abalone-noreweight loss-abalone-nolabelwise"
for seed in 13 14 15; do
  run --datasets goemotions --systems $LOSSES $ABLATIONS --seeds $seed --embedding-quality --per-label
done
for seed in 13 14 15; do
  for frac in 0.01 0.05 0.1 1.0; do
    run --datasets goemotions-groups 20newsgroups-hier --systems mlcl-single mlcl-levels \
        --seeds $seed --set data.train_fraction=$frac --tag frac$frac
  done
done
$PY benchmarks/plot_per_label.py --dataset goemotions --systems $LOSSES
