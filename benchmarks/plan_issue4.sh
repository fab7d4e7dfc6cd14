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
# MLCL low data: the same schedule for both systems at each fraction, more epochs on less
# data (1, 1.5, 2 and 5 passes' worth of the full training set), so the 1 % runs take
# hundreds of steps rather than the 10-35 of the 5-epoch schedule; no early stopping (a 1 %
# run of 20 Newsgroups stopped after 6 of 100 epochs), the best evaluation is kept.
# GoEmotions validates every epoch on its own validation split; 20 Newsgroups on a tenth of
# the whole training set (held out before the fraction is drawn), about 10 times a run.
for spec in 0.01:100:20 0.05:30:24 0.1:20:32 1.0:5:0; do
  IFS=: read -r frac epochs every <<< "$spec"
  for seed in 13 14 15; do
    common=(--systems mlcl-single mlcl-levels --seeds $seed --set data.train_fraction=$frac
            --set train.epochs=$epochs --set train.patience=null --tag frac$frac)
    run --datasets goemotions-groups "${common[@]}"
    if [ "$every" = 0 ]; then
      run --datasets 20newsgroups-hier "${common[@]}"
    else
      run --datasets 20newsgroups-hier "${common[@]}" --set train.eval_every=$every
    fi
  done
done
# control: one head at the total contrastive weight of the two per-level heads
for spec in 0.01:100 0.1:20; do
  IFS=: read -r frac epochs <<< "$spec"
  run --datasets goemotions-groups --systems mlcl-single-w1 --seeds 13 14 15 --set data.train_fraction=$frac \
      --set train.epochs=$epochs --set train.patience=null --tag frac$frac
done
MLCL_METRICS="accuracy micro_f1 macro_f1 level1_accuracy"
$PY benchmarks/plot_data_efficiency.py --dataset goemotions-groups --systems mlcl-single mlcl-single-w1 \
    mlcl-levels --metrics $MLCL_METRICS --pairs mlcl-single:mlcl-levels mlcl-single-w1:mlcl-levels
$PY benchmarks/plot_data_efficiency.py --dataset 20newsgroups-hier --systems mlcl-single mlcl-levels \
    --metrics $MLCL_METRICS
$PY benchmarks/plot_per_label.py --dataset goemotions --systems $LOSSES
