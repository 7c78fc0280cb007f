"""Backends that run an exported ONNX graph: ONNX Runtime and OpenVINO.

Session settings matter more than the runtime on small shared CPUs:
intra-op threads follow torch's thread count (`--threads`), inter-op
parallelism is off, and idle worker threads do not spin (spinning threads
steal the cores the decoding workers and other processes need; the owners'
probe measured 8.7x eager with spinning off vs 5.7x with it on). Graph
optimisation is at its highest level. OpenVINO is pinned to fp32 inference
(it would otherwise pick bf16 on CPUs that have it).
"""
from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .devices import Device
from .export import Session, cached_export
from .options import BackendError
from .torch_runner import StateCache
PACKAGES = {"onnx": "onnxruntime", "openvino": "openvino"}


def installed(backend: str) -> bool:
    """Whether the backend's runtime (and the ONNX exporter's `onnx`) import."""
    need = [PACKAGES[backend], "onnx"]
    return all(importlib.util.find_spec(p) is not None for p in need)


def _threads() -> int:
    return max(1, torch.get_num_threads())


def ort_session(path: Path, device: Device) -> Session:
    """An ONNX Runtime session on the CPU or (onnxruntime-gpu) a CUDA device."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = _threads()
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.add_session_config_entry("session.inter_op.allow_spinning", "0")
    so.log_severity_level = 3
    providers: list[Any] = ["CPUExecutionProvider"]
    if device.kind == "cuda":
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise BackendError("onnxruntime has no CUDA provider here: pip install onnxruntime-gpu, "
                               "or use --backend torch for --device cuda")
        providers = [("CUDAExecutionProvider", {"device_id": device.index}), "CPUExecutionProvider"]
    sess = ort.InferenceSession(str(path), so, providers=providers)
    names = [i.name for i in sess.get_inputs()]  # unused inputs are pruned from the graph

    def run(inputs: dict[str, torch.Tensor]) -> np.ndarray:
        return sess.run(None, {n: inputs[n].numpy() for n in names})[0]

    return run


def openvino_session(path: Path, device: Device) -> Session:
    """An OpenVINO CPU compiled model (its compiled blob cached beside the ONNX)."""
    if device.kind != "cpu":
        raise BackendError("--backend openvino runs on the CPU here; use --backend torch or onnx "
                           "(onnxruntime-gpu) for --device cuda")
    import openvino as ov

    core = ov.Core()
    config = {"INFERENCE_NUM_THREADS": _threads(), "INFERENCE_PRECISION_HINT": "f32",
              "PERFORMANCE_HINT": "LATENCY", "CACHE_DIR": str(path.parent / "openvino")}
    compiled = core.compile_model(str(path), "CPU", config)
    request = compiled.create_infer_request()
    names = [_port_name(port) for port in compiled.inputs]
    lock = threading.Lock()  # an infer request serves one call at a time

    def run(inputs: dict[str, torch.Tensor]) -> np.ndarray:
        feed = {n: inputs[n].numpy() for n in names}
        with lock:
            out = request.infer(feed)
            return np.array(next(iter(out.values())), dtype=np.float32)

    return run


def _port_name(port: Any) -> str:
    """The ONNX input name of an OpenVINO port (a port can carry several
    tensor names, e.g. of a Cast folded into the input)."""
    names = sorted(port.get_names())
    plain = [n for n in names if not n.startswith("/")]
    return plain[0] if plain else port.get_any_name()


SESSIONS = {"onnx": ort_session, "openvino": openvino_session}


class GraphRunner:
    """Runs an encoder's cached, verified export on ONNX Runtime or OpenVINO."""

    def __init__(self, backend: str, fingerprint: Callable[[], str], device: Device):
        if not installed(backend):
            raise BackendError(f"--backend {backend}: {PACKAGES[backend]} is not installed "
                               f"(pip install {PACKAGES[backend]} onnx)")
        self.name = backend
        self.device = device
        self._fingerprint = fingerprint
        self._session = StateCache()
        self._lock = threading.Lock()
        self.export_path: Path | None = None

    @property
    def resolved(self) -> str:
        return self.name

    def _open(self, path: Path) -> Session:
        try:
            return SESSIONS[self.name](path, self.device)
        except BackendError:
            raise
        except Exception as exc:  # runtime load errors come in many types
            raise BackendError(f"{self.name} cannot load {path} ({type(exc).__name__}: "
                               f"{str(exc).splitlines()[0][:160] if str(exc) else ''})") from None

    def _build(self, encoder: Any) -> Session:
        path, session = cached_export(self._fingerprint(), encoder, self.name, self._open)
        self.export_path = path
        return session

    def prepare(self, encoder: Any) -> None:
        """Export/verify and load now (the first `run` would otherwise)."""
        with self._lock:
            self._session.get(encoder, lambda: self._build(encoder))

    def run(self, encoder: Any, inputs: dict[str, torch.Tensor]) -> np.ndarray:
        with self._lock:
            session = self._session.get(encoder, lambda: self._build(encoder))
        return session(inputs)
