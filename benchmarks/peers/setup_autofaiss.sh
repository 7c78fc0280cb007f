#!/usr/bin/env bash
# Creates the isolated venv the ANN benchmark uses to run autofaiss as a peer.
#
# autofaiss 2.18 pins an older stack (numpy<2, pyarrow<16) and its OPQ path
# crashes on faiss>=1.12, so it cannot live in xmodal's own venv: it gets its
# own, with its own faiss, and `xmodal bench ann` calls it as a subprocess,
# passing vectors as .npy files. Not part of CI.
#
# Usage: benchmarks/peers/setup_autofaiss.sh [VENV_DIR]   (default /work/peers/autofaiss-venv)
set -euo pipefail
VENV="${1:-${XMODAL_AUTOFAISS_VENV:-/work/peers/autofaiss-venv}}"
PY="${PYTHON:-python3}"
mkdir -p "$(dirname "$VENV")"
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q "autofaiss==2.18.*" "numpy<2" "pyarrow<16" "faiss-cpu<1.12"
"$VENV/bin/python" -c "import autofaiss, faiss, numpy; print('autofaiss venv ready:', '$VENV', 'faiss', faiss.__version__, 'numpy', numpy.__version__)"
