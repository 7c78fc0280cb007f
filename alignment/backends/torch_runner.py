"""Eager PyTorch on a device: the reference every other backend is checked
against. On CUDA the forward runs under fp16/bf16 autocast."""
from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import torch

from ..core.errors import XmodalError
from .devices import Device

AUTOCAST = {"fp16": torch.float16, "bf16": torch.bfloat16}


def torch_precision(device: Device, precision: str) -> str:
    """'auto' is fp16 on CUDA and fp32 on the CPU; half precision needs CUDA
    (CPU autocast is slower than fp32 on most CPUs and less exact)."""
    if precision == "auto":
        return "fp16" if device.kind == "cuda" else "fp32"
    if precision in AUTOCAST and device.kind != "cuda":
        raise XmodalError(f"--precision {precision} needs --device cuda (the CPU runs fp32)")
    return precision


class StateCache:
    """Remembers a value built for an encoder's current tower/head/prompt
    objects; a swapped head (alignment) or prompt builds a new one."""

    def __init__(self) -> None:
        self._state: tuple[Any, ...] | None = None
        self.value: Any = None

    def get(self, encoder: Any, build) -> Any:
        state = (encoder.tower, encoder.head, getattr(encoder, "prompt", None))
        if self._state is None or any(a is not b for a, b in zip(state, self._state)):
            self.value = build()
            self._state = state
        return self.value


class TorchRunner:
    """Runs `encoder.frozen()` eagerly on `device`."""

    name = "torch"

    def __init__(self, device: Device, precision: str = "auto"):
        self.device = device
        self.precision = torch_precision(device, precision)
        self._module = StateCache()

    @property
    def resolved(self) -> str:
        return self.name

    def _build(self, encoder: Any) -> torch.nn.Module:
        return encoder.frozen().to(self.device.torch_name).eval()

    def _autocast(self):
        if self.precision in AUTOCAST:
            return torch.autocast(device_type="cuda", dtype=AUTOCAST[self.precision])
        return contextlib.nullcontext()

    def run(self, encoder: Any, inputs: dict[str, torch.Tensor]) -> np.ndarray:
        module = self._module.get(encoder, lambda: self._build(encoder))
        dev = self.device.torch_name
        with torch.inference_mode(), self._autocast():
            z = module(*(t.to(dev, non_blocking=True) for t in inputs.values()))
        return z.float().cpu().numpy()
