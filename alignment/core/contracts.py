"""The encoder contracts every other package relies on.

An `Encoder` maps one modality into the shared space in two steps:
`prepare` decodes one raw item (CPU work, safe to run in worker threads)
and `encode` runs the model on a batch of prepared items. Splitting them is
what lets the pipeline overlap decoding with encoding, and lets benchmarks
time the bare forward pass on pre-decoded tensors.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

MODALITIES = ("text", "image", "audio")


@runtime_checkable
class Encoder(Protocol):
    """One modality's tower + projection into the shared space."""

    modality: str
    dim: int

    def prepare(self, item: Any) -> Any:
        """Decode one raw item (path, bytes, PIL image, array, str).

        Raises `BadInput` naming the item when it cannot be used."""
        ...

    def encode(self, batch: list[Any]) -> np.ndarray:
        """Prepared items -> float32 (n, dim), rows L2-normalised;
        deterministic in eval mode."""
        ...


@dataclass(frozen=True)
class ItemError:
    """Why one item of a batch was skipped."""

    index: int
    item: str
    reason: str

    def line(self) -> str:
        return f"skipped {self.item}: {self.reason}"


@dataclass
class EncodeResult:
    """Vectors for the items that worked, plus what was skipped and why.

    `ok[i]` is the input position of `vectors[i]`."""

    vectors: np.ndarray
    ok: list[int] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation in float32; zero rows stay zero."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)
