"""`Hit`: one search result."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Hit:
    """A retrieved item: its id, similarity score (inner product of
    normalised vectors), modality, where its media lives, and metadata
    (caption, user fields, which index it came from)."""

    id: str
    score: float
    modality: str
    uri: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
