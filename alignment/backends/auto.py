"""`--backend auto`: the fastest installed backend for an encoder on this
machine, by a short measured probe whose result is cached per machine.

The probe runs each candidate on the same batch, interleaved over a few
rounds (so a load spike hits all of them alike), and keeps the one with
the best median. A candidate that cannot export or run is dropped; when
only torch is left for that reason (or no graph runtime is installed) the
choice is torch with one warning line on stderr.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import statistics
import sys
import threading
import time
from typing import Any, Callable

import torch

from ..core.atomic import atomic_write_text
from ..core.fingerprint import cache_dir
from .devices import Device
from .options import BackendError
from .graph import PACKAGES, GraphRunner, installed
from .torch_runner import TorchRunner

PROBE_BATCH = 8
PROBE_ROUNDS = 3
#: The winner of `xmodal bench throughput --backend torch onnx openvino` on
#: CPU in every modality (benchmarks/RESULTS.md), then the runner-up. The
#: short probe keeps this order unless another backend is clearly faster
#: (by more than `MARGIN`): a load spike during a 3-round probe on a shared
#: machine otherwise flips close calls (lite images: onnx 11.63 vs openvino
#: 11.96 items/s in one probe, onnx 1.2-1.5x openvino in the benchmark).
MEASURED_ORDER = ("onnx", "openvino", "torch")
MARGIN = 1.15
PROBE_FILE = "backend-probe.json"
_warned: set[str] = set()
_lock = threading.Lock()


def machine_key() -> str:
    """What makes timings comparable: host, CPU, threads, library versions."""
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu)
    except OSError:
        pass
    versions = [torch.__version__]
    for pkg in PACKAGES.values():
        try:
            from importlib.metadata import version

            versions.append(f"{pkg} {version(pkg)}")
        except Exception:
            versions.append(f"{pkg} -")
    raw = "|".join([platform.node(), cpu, str(os.cpu_count()), str(torch.get_num_threads()), *versions])
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def warn_once(message: str) -> None:
    """One warning line per distinct message and process."""
    if message not in _warned:
        _warned.add(message)
        print(f"warning: {message}", file=sys.stderr)


def _read_cache() -> dict[str, Any]:
    try:
        return json.loads((cache_dir() / PROBE_FILE).read_text())
    except (OSError, ValueError):
        return {}


def _write_cache(key: str, entry: dict[str, Any]) -> None:
    data = _read_cache()
    data[key] = entry
    path = cache_dir() / PROBE_FILE
    try:
        atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
    except OSError:
        pass  # an unwritable cache only means probing again next time


def candidates(device: Device) -> list[str]:
    """Installed backends that can run on `device`, torch first."""
    out = ["torch"]
    for b in ("onnx", "openvino"):
        if installed(b) and (device.kind == "cpu" or b == "onnx"):
            out.append(b)
    return out


def choose(speeds: dict[str, float]) -> str:
    """The backend to use given probe items/s: the fastest, unless a backend
    earlier in `MEASURED_ORDER` is within `MARGIN` of it."""
    fastest = max(speeds, key=speeds.get)
    for name in MEASURED_ORDER:
        if name in speeds and speeds[name] * MARGIN >= speeds[fastest]:
            return name
    return fastest


def _time(run: Callable[[], Any], rounds: int) -> list[float]:
    return [_once(run) for _ in range(rounds)]


def _once(run: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    run()
    return time.perf_counter() - t0


def probe(encoder: Any, runners: dict[str, Any], rounds: int = PROBE_ROUNDS) -> dict[str, float]:
    """Items/s per runner, medians of interleaved rounds on one batch."""
    items = encoder.example_items()
    batch = (items * PROBE_BATCH)[:PROBE_BATCH]
    inputs = encoder.graph_inputs(batch)
    seconds: dict[str, list[float]] = {name: [] for name in runners}
    for name, r in runners.items():
        r.run(encoder, inputs)  # warm-up: allocators, lazy kernels
    for _ in range(rounds):
        for name, r in runners.items():
            seconds[name].append(_once(lambda: r.run(encoder, inputs)))
    return {name: round(len(batch) / statistics.median(s), 2) for name, s in seconds.items()}


class AutoRunner:
    """Picks a runner on first use (probe, or the cached probe result)."""

    name = "auto"

    def __init__(self, fingerprint: Callable[[], str], device: Device, precision: str = "auto"):
        self.device = device
        self.precision = precision
        self._fingerprint = fingerprint
        self.chosen: Any = None
        self._lock = threading.Lock()

    @property
    def resolved(self) -> str:
        return self.chosen.name if self.chosen is not None else "auto"

    def _make(self, backend: str) -> Any:
        if backend == "torch":
            return TorchRunner(self.device, self.precision)
        runner = GraphRunner(backend, self._fingerprint, self.device)
        return runner

    def _choose(self, encoder: Any) -> Any:
        names = candidates(self.device)
        if self.precision not in ("auto", "fp32"):
            names = ["torch"]  # half precision is a torch-on-CUDA mode
        key = "|".join([machine_key(), self._fingerprint()[:16], encoder.modality, str(self.device),
                        self.precision])
        cached = _read_cache().get(key, {}).get("backend")
        if cached in names:
            try:
                runner = self._make(cached)
                if cached != "torch":
                    runner.prepare(encoder)
                return runner
            except BackendError:
                pass  # e.g. the export became unloadable: measure again
        if len(names) == 1:
            if self.precision in ("auto", "fp32"):
                missing = " or ".join(PACKAGES.values())
                warn_once(f"--backend auto: neither {missing} is installed for {self.device}; "
                          f"encoding with torch (pip install onnxruntime onnx for a faster CPU backend)")
            return self._make("torch")
        runners, failed = {}, {}
        for name in names:
            try:
                runner = self._make(name)
                if name != "torch":
                    runner.prepare(encoder)
                runners[name] = runner
            except BackendError as exc:
                failed[name] = str(exc)
        speeds = probe(encoder, runners)
        best = choose(speeds)
        if best == "torch" and failed:
            why = "; ".join(f"{k}: {v}" for k, v in failed.items())
            warn_once(f"--backend auto: {encoder.modality} encoder falls back to torch ({why})")
        _write_cache(key, {"backend": best, "items_per_s": speeds, "failed": failed,
                           "when": time.strftime("%Y-%m-%d %H:%M:%S")})
        return runners[best]

    def prepare(self, encoder: Any) -> None:
        with self._lock:
            if self.chosen is None:
                self.chosen = self._choose(encoder)

    def run(self, encoder: Any, inputs: dict[str, torch.Tensor]) -> Any:
        self.prepare(encoder)
        return self.chosen.run(encoder, inputs)
