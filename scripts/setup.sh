#!/usr/bin/env bash
# Create .venv and install xmodal with its test extras (plus, as root with
# apt, the Debian tools the data fetchers and the browser test use).
# PyPI's CPU-only torch file on these machines cannot load torchvision, so we
# pin the torch/torchvision pair that imports and runs on the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
need=""
for tool in chromium fluidsynth espeak-ng sox; do
  command -v "$tool" >/dev/null || need="$need $tool"
done
if [ -n "$need" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing Debian packages:$need" >&2
    apt-get update -q >/dev/null
    apt-get install -y -q $need >/dev/null
  else
    echo "setup: missing$need (install them to run the data fetchers and browser test)" >&2
  fi
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --upgrade pip setuptools wheel
.venv/bin/pip install -q "torch==2.14.1" "torchvision==0.29.*"
.venv/bin/pip install -q -e ".[test,towers,ray]"
