#!/usr/bin/env bash
# Issue 5 runs on EURLEX57K (PLANT vs LANT, stateful decoder, data efficiency), cheapest
# first; rows keep seeds recorded earlier, so the plan can be stopped and re-run. On two
# cores run two seeds side by side with OMP_NUM_THREADS=1, e.g. SEEDS=14 and SEEDS=15.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
SEEDS=${SEEDS:-13}
run() { $PY benchmarks/run_baselines.py --datasets eurlex57k --seeds $SEEDS "$@"; $PY benchmarks/make_results_md.py; }
# cost of the head and of the MIG / L2R stage (idle machine, once)
if [ "${TIMING:-0}" = 1 ]; then
  $PY benchmarks/profile_systems.py --dataset eurlex57k --systems lant plant --labels 4271
  $PY benchmarks/plant_mig_timing.py --out runs/plant/mig --json benchmarks/results/profile/eurlex57k__plant-stage.json
fi
# data efficiency: the same schedule for both systems at each fraction, more epochs on less
# data (about 600-5,600 steps), evaluated about 8 times per run
for spec in 0.01:40:75 0.05:15:142 0.25:6:352; do
  IFS=: read -r frac epochs every <<< "$spec"
  run --systems lant plant --set data.train_fraction=$frac --set train.epochs=$epochs \
      --set train.eval_every=$every --tag frac$frac
done
# 100 %: the dataset's own 5-epoch schedule, validated 3 times an epoch; about 3 hours for
# PLANT on one thread, so --resume continues a run cut off from its last checkpoint
run --systems lant plant --set train.eval_every=469 --tag frac1.0 --resume
# the stateful decoder on and off: 2 chunks of 256 word pieces (4, the configs' own, would
# cost about 4x PLANT's time), at 5 % of the documents, beside the one-chunk plant row
run --systems plant-chunks plant-stateful --set tokenizer.max_chunks=2 \
    --set data.train_fraction=0.05 --set train.epochs=15 --set train.eval_every=142 \
    --tag c2frac0.05 --resume
# the stateful-trained weights decoded again with max pooling: the decoder off, same model
$PY benchmarks/redecode_chunks.py "runs/bench/eurlex57k-plant-stateful@c2frac0.05-s13" \
    --pooling max --row plant-stateful-maxdecode@c2frac0.05
$PY benchmarks/make_results_md.py
# LibMultiLabel's setting (unigrams, L2-loss SVMs; 42 minutes on one thread for all the
# data), on all of it and on each fraction (the default logistic regression over word
# pairs would take about 7 hours on one thread for 4,108 labels)
run --systems linear-l2svm
for frac in 0.01 0.05 0.25; do
  run --systems linear-l2svm --set data.train_fraction=$frac --tag frac$frac
done
# the same SVMs on each document's first 200 words, about the 256 word pieces the neural
# rows read: what the window costs the linear bar
run --systems linear-l2svm-w200
for frac in 0.01 0.05 0.25; do
  run --systems linear-l2svm-w200 --set data.train_fraction=$frac --tag frac$frac
done
$PY benchmarks/plot_data_efficiency.py --dataset eurlex57k --systems linear-l2svm lant plant \
    --pairs lant:plant linear-l2svm:plant
# every metric the issue asks for, overall and per label group, at each fraction
$PY benchmarks/plot_data_efficiency.py --dataset eurlex57k --no-plot \
    --systems linear-l2svm linear-l2svm-w200 lant plant \
    --metrics p@1 p@3 p@5 ndcg@1 ndcg@3 ndcg@5 rprec@5 psp@1 psp@3 psp@5 micro_f1 macro_f1
$PY benchmarks/plot_data_efficiency.py --dataset eurlex57k --no-plot \
    --systems linear-l2svm linear-l2svm-w200 lant plant \
    --metrics frequent_p@1 frequent_p@5 frequent_ndcg@5 fewshot_p@1 fewshot_p@5 fewshot_ndcg@5
