"""Inference backends behind the `Encoder` contract.

`bind(stack, backend, device, precision)` gives every tower encoder of a
stack a runner: `torch` (eager, any device), `onnx` (ONNX Runtime, CPU or
CUDA with onnxruntime-gpu), `openvino` (CPU), or `auto` (the fastest of
those installed, measured once per machine). The exported graphs are cached
per encoder state (see `export`); the stack's fingerprint never depends on
the backend, so an index built with one backend is searched with another.
"""
from __future__ import annotations

from typing import Any

# Only torch-free modules at import time: the CLI checks option names here
# before anything heavy loads. Runners import lazily in `runner_for`.
from .batching import micro_batch, preferred_batch
from .devices import DEVICE_CHOICES, Device, resolve_device
from .options import BACKENDS, PRECISIONS, BackendError, RunOptions, run_options

__all__ = ["BACKENDS", "DEVICE_CHOICES", "PRECISIONS", "BackendError", "Device", "RunOptions",
           "backend_names", "bind", "merge_backends", "micro_batch", "preferred_batch", "resolve_device", "run_options", "runner_for"]


def runner_for(backend: str, fingerprint, device: Device, precision: str = "auto") -> Any:
    """A runner object for one encoder (see `bind`)."""
    from .auto import AutoRunner
    from .graph import GraphRunner
    from .torch_runner import TorchRunner, torch_precision

    if backend == "torch":
        return TorchRunner(device, precision)
    if precision not in ("auto", "fp32"):
        if backend == "auto":
            torch_precision(device, precision)  # one error line now, not at the first batch
            return AutoRunner(fingerprint, device, precision)
        raise BackendError(f"--precision {precision} runs on --backend torch only")
    if backend == "auto":
        return AutoRunner(fingerprint, device, precision)
    return GraphRunner(backend, fingerprint, device)


def bind(stack: Any, backend: str | None = None, device: str | None = None,
         precision: str | None = None) -> Any:
    """Give each tower encoder of `stack` a runner; returns the stack.

    Encoders without an exportable `frozen()` (plugins) run as they are."""
    opts = run_options(backend, device, precision)
    dev = resolve_device(opts.device)
    for enc in stack.encoders.values():
        if hasattr(enc, "frozen") and hasattr(enc, "graph_inputs"):
            enc.runner = runner_for(opts.backend, lambda: stack.fingerprint, dev, opts.precision)
    stack.info["run"] = {"backend": opts.backend, "device": str(dev), "precision": opts.precision}
    return stack


def backend_names(stack: Any, chosen_only: bool = False) -> dict[str, str]:
    """Modality -> the backend its encoder runs on ('auto' until it chose;
    left out with `chosen_only`). Plugin encoders without a runner: 'native'."""
    out = {m: getattr(getattr(e, "runner", None), "resolved", "native") for m, e in stack.encoders.items()}
    return {m: b for m, b in out.items() if not (chosen_only and b == "auto")}


def merge_backends(old: dict[str, str], new: dict[str, str]) -> dict[str, str]:
    """Per modality, every backend that computed some of an index's vectors."""
    out = dict(old)
    for m, b in new.items():
        out[m] = ",".join(sorted(set(filter(None, out.get(m, "").split(","))) | {b}))
    return out
