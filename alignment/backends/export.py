"""Exported inference graphs, cached per encoder state.

An encoder's `frozen()` module (tower + head + soft prompt) is exported to
ONNX once and kept under `<cache>/exports/<key>/` as `model.onnx` plus
`export.json`. The key is a hash of the stack fingerprint (the weights),
the modality, the head and prompt tensors themselves (so a head swapped in
after the fingerprint was taken still changes it), the graph inputs and the
exporter versions. Nothing cached is trusted: the file's sha256 is checked
against `export.json` on every load, and every fresh export must reproduce
eager torch to cosine >= `PARITY` on inputs it was not traced on (checked
once per runtime, recorded in `export.json`), or that runtime refuses it. A stale, corrupt or half-written export is simply rebuilt.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..core.fingerprint import cache_dir, combine, tensors_sha256
from ..core.atomic import atomic_write_text
from ..core.hashing import hash_file
from .options import BackendError

EXPORT_VERSION = 1
OPSET = 17
PARITY = 0.999
MODEL, META = "model.onnx", "export.json"


Session = Callable[[dict[str, torch.Tensor]], np.ndarray]


@dataclass
class ExportInfo:
    """What `export.json` records about one exported graph."""

    key: str
    modality: str
    fingerprint: str
    inputs: list[str]
    sha256: str
    bytes: int
    seconds: float
    torch: str
    opset: int = OPSET
    version: int = EXPORT_VERSION
    parity: dict[str, float] = field(default_factory=dict)  # runtime -> worst cosine to torch


def export_key(fingerprint: str, encoder: Any) -> str:
    """Hash naming the graph of `encoder` in its current state."""
    names = list(encoder.graph_inputs(encoder.example_items()))
    parts = [f"fingerprint|{fingerprint}", f"modality|{encoder.modality}",
             f"class|{type(encoder).__name__}", f"head|{tensors_sha256(encoder.head)}",
             f"prompt|{tensors_sha256(getattr(encoder, 'prompt', None))}", f"inputs|{','.join(names)}",
             f"export|{EXPORT_VERSION}|{OPSET}|torch {torch.__version__}"]
    return combine(parts)


def exports_root() -> Path:
    return cache_dir() / "exports"


def _dynamic_axes(inputs: dict[str, torch.Tensor]) -> dict[str, dict[int, str]]:
    """Every input dim is dynamic except image channels/size (fixed by the
    tower), so one graph serves any batch, token length or window count."""
    axes = {}
    for name, t in inputs.items():
        fixed = {1, 2, 3} if name in ("pixels", "pixel_values") else set()
        axes[name] = {d: f"{name}_{d}" for d in range(t.dim()) if d not in fixed}
    axes["vectors"] = {0: "n"}
    return axes


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return (a * b).sum(1)


def parity_batches(encoder: Any) -> list[list[Any]]:
    """Batches the graph was not traced on: another batch size and (text)
    another token length."""
    ex = encoder.example_items()
    return [ex[1:], ex[::-1] + ex[:1]]


def check_parity(encoder: Any, run: Session) -> float:
    """Lowest cosine between `run` and eager torch over `parity_batches`."""
    worst = 1.0
    frozen = encoder.frozen().eval()
    for batch in parity_batches(encoder):
        inputs = encoder.graph_inputs(batch)
        with torch.inference_mode():
            ref = frozen(*inputs.values()).float().numpy()
        worst = min(worst, float(_cosines(run(inputs), ref).min()))
    return worst


def _export_onnx(encoder: Any, path: Path) -> list[str]:
    frozen = encoder.frozen().eval()
    inputs = encoder.graph_inputs(encoder.example_items())
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer and deprecation chatter, not the user's business
        torch.onnx.export(frozen, tuple(inputs.values()), str(path), dynamo=False,
                          input_names=list(inputs), output_names=["vectors"],
                          dynamic_axes=_dynamic_axes(inputs), opset_version=OPSET, do_constant_folding=True)
    return list(inputs)


def _read_info(folder: Path, key: str) -> ExportInfo | None:
    """The cached export's record when it is whole and matches `key`."""
    try:
        data = json.loads((folder / META).read_text())
        info = ExportInfo(**data)
    except (OSError, ValueError, TypeError):
        return None
    model = folder / MODEL
    if info.key != key or info.version != EXPORT_VERSION or not model.is_file():
        return None
    if model.stat().st_size != info.bytes or hash_file(model) != info.sha256:
        return None
    return info


def cached_export(fingerprint: str, encoder: Any, backend: str,
                  open_session: Callable[[Path], Session]) -> tuple[Path, Session]:
    """The verified ONNX file for `encoder` (exported now when missing,
    stale or corrupt) and a session on it from `open_session`. The first time
    a runtime opens an export, its output is checked against eager torch."""
    key = export_key(fingerprint, encoder)
    folder = exports_root() / key[:32]
    info = _read_info(folder, key)
    if info is None:
        _export(folder, key, fingerprint, encoder)
        info = _read_info(folder, key)
        if info is None:
            raise BackendError(f"export cache {folder} could not be written or read back")
    session = open_session(folder / MODEL)
    if backend not in info.parity:
        cosine = check_parity(encoder, session)
        if cosine < PARITY:
            raise BackendError(f"{backend} disagrees with torch on the exported {encoder.modality} graph "
                               f"(cosine {cosine:.5f} < {PARITY})")
        info.parity[backend] = round(cosine, 6)
        _write_info(folder, info)
    return folder / MODEL, session


def _write_info(folder: Path, info: ExportInfo) -> None:
    atomic_write_text(folder / META, json.dumps(asdict(info), indent=2, sort_keys=True) + "\n")


def _export(folder: Path, key: str, fingerprint: str, encoder: Any) -> None:
    """Export into a private temp folder, then move it into place."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key[:12]}-", dir=folder.parent))
    try:
        t0 = time.perf_counter()
        try:
            names = _export_onnx(encoder, tmp / MODEL)
        except Exception as exc:  # the exporter raises many kinds of errors
            raise BackendError(f"cannot export the {encoder.modality} tower to ONNX "
                               f"({type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''})"
                               ) from None
        model = tmp / MODEL
        info = ExportInfo(key, encoder.modality, fingerprint, names, hash_file(model), model.stat().st_size,
                          round(time.perf_counter() - t0, 2), torch.__version__)
        _write_info(tmp, info)
        _publish(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _publish(tmp: Path, folder: Path) -> None:
    """Move a finished export into place; a stale or corrupt folder is
    replaced, one another process just published is kept."""
    if folder.exists():
        shutil.rmtree(folder, ignore_errors=True)
    try:
        os.rename(tmp, folder)
    except OSError:
        pass  # another process won the race: its export is verified on read
