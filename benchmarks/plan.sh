#!/usr/bin/env bash
# The runs behind benchmarks/RESULTS.md, cheapest first. Linear models are deterministic
# (one seed); the costly neural rows on the larger sets use one seed on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
$PY benchmarks/run_baselines.py --datasets goemotions sst2 20newsgroups --systems linear --seeds 13
$PY benchmarks/run_baselines.py --datasets sst2 goemotions 20newsgroups --systems cnn --seeds 13 14 15
$PY benchmarks/run_baselines.py --datasets sst2 --systems bilstm transformer --seeds 13 14 15
$PY benchmarks/run_baselines.py --datasets sst2 --systems pretrained-frozen --seeds 13
$PY benchmarks/run_baselines.py --datasets goemotions --systems bilstm pretrained-frozen transformer --seeds 13
$PY benchmarks/run_baselines.py --datasets 20newsgroups --systems bilstm pretrained-frozen transformer --seeds 13
