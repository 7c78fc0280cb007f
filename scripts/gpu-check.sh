#!/usr/bin/env bash
# GPU check for the CUDA path (issue 16), for a machine with an NVIDIA GPU.
# Installs xmodal into .venv-gpu (PyPI's default Linux torch wheel is a CUDA
# build), then encodes synthetic images and captions with `lite` and a
# random-weight open_clip ViT-B-32 on cuda (torch, fp16 autocast) and on the
# CPU, and prints one JSON line per model: cosine GPU vs CPU (must be
# >= 0.999) and images/s on both. With onnxruntime-gpu importable it also
# runs --backend onnx on cuda. Exit 1 when a cosine is below 0.999.
# Budget: under 8 minutes including the install (set SKIP_INSTALL=1 to
# reuse an existing environment, PYTHON=... to pick the interpreter;
# GPU_CHECK_DEVICE=cpu dry-runs the whole check without a GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ -z "${SKIP_INSTALL:-}" ]; then
  [ -x .venv-gpu/bin/python ] || "$PY" -m venv .venv-gpu
  .venv-gpu/bin/pip install -q --upgrade pip setuptools wheel
  .venv-gpu/bin/pip install -q -e .
  PY=.venv-gpu/bin/python
fi
export XMODAL_CACHE=${XMODAL_CACHE:-$(mktemp -d)/xmodal-cache} OMP_WAIT_POLICY=PASSIVE TOKENIZERS_PARALLELISM=false
timeout 420 "$PY" - <<'PYEOF'
import json, os, sys, tempfile, time

import numpy as np
import torch
from PIL import Image

from xmodal.alignment import load_encoder

DEVICE = os.environ.get("GPU_CHECK_DEVICE", "cuda")
if DEVICE.startswith("cuda") and not torch.cuda.is_available():
    sys.exit("gpu-check: torch sees no CUDA device (torch %s, CUDA build %s)" % (torch.__version__, torch.version.cuda))
rng = np.random.default_rng(0)
images = [Image.fromarray(rng.integers(0, 255, (240 + i % 7 * 16, 320, 3), dtype=np.uint8)) for i in range(128)]
texts = [f"a photo of {w} number {i}" for i, w in enumerate(["a cat", "two dogs", "a red car", "a tree"] * 32)]


def random_vit_b32() -> str:
    import open_clip
    from safetensors.torch import save_file

    model = open_clip.create_model("ViT-B-32", pretrained=None)
    path = os.path.join(tempfile.mkdtemp(), "vit-b-32-random.safetensors")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, path)
    return f"openclip:ViT-B-32/{path}"


def rate(stack, modality, prepared, batch):
    enc = stack.encoder(modality)
    enc.encode(prepared[:batch])  # warm-up: kernels, allocator, autocast caches
    if DEVICE.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = np.concatenate([enc.encode(prepared[i:i + batch]) for i in range(0, len(prepared), batch)])
    return out, len(prepared) / (time.perf_counter() - t0)


failed = False
for spec in ["lite", random_vit_b32()]:
    cpu = load_encoder(spec, backend="torch", device="cpu")
    runs = [("torch", DEVICE)]
    try:
        import onnxruntime as ort
        if "CUDAExecutionProvider" in ort.get_available_providers():
            runs.append(("onnx", DEVICE))
    except ImportError:
        pass
    prepared = {m: [cpu.encoder(m).prepare(x) for x in (images if m == "image" else texts)] for m in ("image", "text")}
    ref = {m: rate(cpu, m, prepared[m], 64) for m in prepared}
    for backend, device in runs:
        gpu = load_encoder(spec, backend=backend, device=device)
        row = {"model": spec.split("/")[0], "backend": backend, "device": device, "gpu": torch.cuda.get_device_name(0) if DEVICE.startswith("cuda") else "none (dry run)",
               "precision": getattr(gpu.encoder("image").runner, "precision", "fp32")}
        for m in prepared:
            vec, per_s = rate(gpu, m, prepared[m], 64)
            cos = float((vec * ref[m][0]).sum(1).min())
            row[m] = {"cosine_min_vs_cpu": round(cos, 6), "items_per_s": round(per_s, 1),
                      "cpu_items_per_s": round(ref[m][1], 1), "ok": cos >= 0.999}
            failed |= cos < 0.999
        print(json.dumps(row), flush=True)
sys.exit(1 if failed else 0)
PYEOF
