"""Backend and precision names, checked without importing torch, so the CLI
can reject a bad `--backend` / `--precision` before loading anything; and
the one error type every backend raises."""
from __future__ import annotations

import os
from dataclasses import dataclass

from ..core.errors import XmodalError
from .devices import check_device_name, default_device

BACKENDS = ("auto", "torch", "onnx", "openvino")
GRAPH_BACKENDS = ("onnx", "openvino")  # run an exported graph
PRECISIONS = ("auto", "fp32", "fp16", "bf16")


class BackendError(XmodalError):
    """A backend cannot run an encoder (not installed, export failed, ...)."""


@dataclass(frozen=True)
class RunOptions:
    """How a stack runs: backend, device and numeric precision (names;
    None = the default: environment, else auto)."""

    backend: str | None = None
    device: str | None = None
    precision: str | None = None


def default_backend() -> str:
    """`$XMODAL_BACKEND`, else 'auto'."""
    return os.environ.get("XMODAL_BACKEND") or "auto"


def run_options(backend: str | None = None, device: str | None = None,
                precision: str | None = None) -> RunOptions:
    """Checked options; None means the default (environment, else auto)."""
    b = (backend or default_backend()).strip().lower()
    if b not in BACKENDS:
        raise XmodalError(f"--backend {backend!r}: give one of {'|'.join(BACKENDS)}")
    p = (precision or "auto").strip().lower()
    if p not in PRECISIONS:
        raise XmodalError(f"--precision {precision!r}: give one of {'|'.join(PRECISIONS)}")
    return RunOptions(b, check_device_name(device or default_device()), p)
