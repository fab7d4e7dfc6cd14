#!/usr/bin/env bash
# The runs behind benchmarks/RESULTS.md: one seed of every row first (cheapest first),
# then more seeds; rows keep the seeds recorded earlier. Linear models are deterministic.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
run() { $PY benchmarks/run_baselines.py "$@"; $PY benchmarks/make_results_md.py; }
run --datasets goemotions sst2 20newsgroups --systems linear --seeds 13
run --datasets sst2 goemotions --systems cnn --seeds 13 14 15
run --datasets sst2 --systems bilstm transformer pretrained-frozen --seeds 13
run --datasets goemotions --systems bilstm pretrained-frozen transformer --seeds 13
run --datasets 20newsgroups --systems cnn bilstm pretrained-frozen transformer --seeds 13
run --datasets sst2 --systems bilstm transformer pretrained-frozen --seeds 14 15
run --datasets goemotions --systems bilstm pretrained-frozen transformer --seeds 14 15
run --datasets 20newsgroups --systems cnn bilstm pretrained-frozen transformer --seeds 14 15
