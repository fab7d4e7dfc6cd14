#!/usr/bin/env bash
# Issue 6 benchmarks, on an otherwise idle machine (timings are the point):
# labelwise vs SetFit vs LibMultiLabel on SST-2 and GoEmotions, then the service under load.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
bash benchmarks/compare/setup_envs.sh
$PY benchmarks/compare/compare_tools.py --datasets sst2 \
    --systems labelwise labelwise-torch labelwise-cnn labelwise-minilm labelwise-minilm3 setfit lml-linear lml-nn
$PY benchmarks/compare/compare_tools.py --datasets goemotions \
    --systems labelwise labelwise-cnn labelwise-minilm setfit lml-linear lml-nn
$PY benchmarks/load_test.py runs/compare/labelwise-sst2-transformer-s13
$PY benchmarks/make_results_md.py
