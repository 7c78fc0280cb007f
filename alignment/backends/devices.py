"""Device names: `auto | cpu | cuda[:N]`, parsed and checked in one place.

`auto` is CUDA when torch sees a GPU, else the CPU. Towers always load on
`LOAD_DEVICE` (weights are read from files into host memory); the runner a
backend binds moves them to the chosen device once.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

from ..core.errors import XmodalError

DEVICE_CHOICES = "auto|cpu|cuda[:N]"
LOAD_DEVICE = "cpu"
_PATTERN = re.compile(r"^(auto|cpu|cuda)(?::(\d+))?$")


@dataclass(frozen=True)
class Device:
    """A resolved device: `kind` 'cpu' or 'cuda', and the CUDA `index`."""

    kind: str
    index: int = 0

    @property
    def torch_name(self) -> str:
        return "cpu" if self.kind == "cpu" else f"cuda:{self.index}"

    def __str__(self) -> str:
        return self.torch_name


def default_device() -> str:
    """`$XMODAL_DEVICE`, else 'auto'."""
    return os.environ.get("XMODAL_DEVICE") or "auto"


def check_device_name(name: str) -> str:
    """Syntax check only (no torch import): 'auto', 'cpu', 'cuda', 'cuda:N'."""
    value = (name or "").strip().lower()
    m = _PATTERN.match(value)
    if not m or (m.group(2) is not None and m.group(1) != "cuda"):
        raise XmodalError(f"--device {name!r}: give one of {DEVICE_CHOICES}")
    return value


def cuda_count() -> int:
    """How many CUDA devices torch can use (0 without a GPU or CUDA build)."""
    import torch

    try:
        return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0
    except Exception:  # a broken driver reads as no GPU, not a crash
        return 0


def resolve_device(name: str | None = None) -> Device:
    """'auto' -> cuda:0 when a GPU is there, else cpu; 'cuda[:N]' is checked
    against the GPUs present (one error line when it is not there)."""
    value = check_device_name(name or default_device())
    m = _PATTERN.match(value)
    kind, index = m.group(1), int(m.group(2) or 0)
    if kind == "cpu":
        return Device("cpu")
    count = cuda_count()
    if kind == "auto":
        return Device("cuda", 0) if count else Device("cpu")
    if count == 0:
        raise XmodalError(f"--device {value}: no CUDA GPU is visible to torch "
                          "(use --device cpu, or install a CUDA build of torch)")
    if index >= count:
        raise XmodalError(f"--device {value}: only {count} CUDA device(s) here (cuda:0..cuda:{count - 1})")
    return Device("cuda", index)
