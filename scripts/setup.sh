#!/usr/bin/env bash
# Create .venv and install xmodal with its test extras.
# PyPI's CPU torch file on these machines cannot load torchvision, so pin the
# torch/torchvision pair that imports and runs on the CPU (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --upgrade pip setuptools wheel
.venv/bin/pip install -q "torch==2.14.1" "torchvision==0.29.*"
.venv/bin/pip install -q -e ".[test]"
