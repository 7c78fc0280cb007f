"""Batch sizes per backend and modality: what the pipeline hands an encoder
per call (`preferred_batch`) and, for text, the length-sorted sub-batches it
runs inside that call (`micro_batch`).

Text batches are padded to their longest caption; captions are short and
uneven (openclipart: mean 9.4 tokens, 2.4x padding waste in batches of 64),
so the text encoder sorts a call's items by token length and runs
sub-batches of similar length, trimmed to their own longest. The sizes were
measured on this project's 2-core box (benchmarks/RESULTS.md, issue 16).
"""
from __future__ import annotations

from typing import Any

BATCH = {"text": 64, "image": 32, "audio": 16}
MICRO = {"torch": 16, "onnx": 8, "openvino": 8}
DEFAULT_MICRO = 16


def _backend(encoder: Any) -> str:
    runner = getattr(encoder, "runner", None)
    if runner is None:
        return "torch"
    if getattr(runner, "resolved", "auto") == "auto" and hasattr(runner, "prepare"):
        runner.prepare(encoder)  # auto: choose now (the probe is cached per machine)
    return getattr(runner, "resolved", "torch")


def preferred_batch(encoder: Any) -> int:
    """Items per encode call for this encoder's modality."""
    return BATCH.get(getattr(encoder, "modality", ""), 32)


def micro_batch(encoder: Any) -> int:
    """Length-sorted text sub-batch size for this encoder's backend."""
    return MICRO.get(_backend(encoder), DEFAULT_MICRO)
