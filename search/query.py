"""`Query`: what to search with — exactly one of text, image, audio,
embedding or the id of an indexed item ("more like this")."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from xmodal.alignment.core.errors import BadInput

TARGETS = ("image", "audio", "text")
_FIELDS = ("text", "image", "audio", "embedding", "id")


@dataclass(frozen=True)
class Query:
    """One query. `image`/`audio` are a path, raw bytes or anything the
    encoder's `prepare` accepts; `embedding` is a vector in the index's
    space; `id` names an indexed item whose stored vector is the query."""

    text: str | None = None
    image: Any = None
    audio: Any = None
    embedding: Sequence[float] | np.ndarray | None = None
    id: str | None = None

    def __post_init__(self) -> None:
        given = [f for f in _FIELDS if getattr(self, f) is not None]
        if len(given) != 1:
            what = ", ".join(given) if given else "nothing"
            raise BadInput("query", f"needs exactly one of {', '.join(_FIELDS)}; got {what}")
        if self.text is not None and not str(self.text).strip():
            raise BadInput("query text", "is empty", "type some words to search for")
        if self.id is not None and not str(self.id).strip():
            raise BadInput("query id", "is empty")

    @property
    def kind(self) -> str:
        """Which field is set: text|image|audio|embedding|id."""
        return next(f for f in _FIELDS if getattr(self, f) is not None)

    def describe(self) -> str:
        """Short printable form for error lines and logs."""
        value = getattr(self, self.kind)
        if isinstance(value, (bytes, bytearray)):
            return f"{self.kind}=<{len(value)} bytes>"
        if self.kind == "embedding":
            return f"embedding=<{len(value)} floats>"
        text = str(value) if not isinstance(value, Path) else value.as_posix()
        return f"{self.kind}={text[:60]!r}"


def check_target(target: str | None) -> str | None:
    """Validate a target modality; None means every modality."""
    if target is None or target == "" or target == "all":
        return None
    if target not in TARGETS:
        raise BadInput("target", f"unknown modality {target!r}", f"use one of {', '.join(TARGETS)} or all")
    return target


def as_query_vector(values: Any, dim: int) -> np.ndarray:
    """A user-given embedding -> float32 (1, dim), L2-normalised.

    Rejects wrong dims, non-numbers, NaN/inf and all-zero vectors."""
    try:
        vec = np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError):
        raise BadInput("embedding", "is not a list of numbers") from None
    if vec.ndim == 2 and vec.shape[0] == 1:
        vec = vec[0]
    if vec.ndim != 1:
        raise BadInput("embedding", f"must be a flat list of {dim} numbers, got shape {vec.shape}")
    if vec.shape[0] != dim:
        raise BadInput("embedding", f"has {vec.shape[0]} numbers, the index has dim {dim}")
    if not np.all(np.isfinite(vec)):
        raise BadInput("embedding", "contains NaN or infinity")
    norm = float(np.linalg.norm(vec))
    if norm == 0.0:
        raise BadInput("embedding", "is all zeros")
    return (vec / norm).reshape(1, dim)
