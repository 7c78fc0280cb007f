"""`Record`: what every corpus reader yields."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Record:
    """One corpus item.

    `id` is stable across runs (from the manifest, else the relative path).
    Exactly one of `uri` (a file path, or `tarpath::member` inside a tar
    shard) and `text` is set for the item itself; `captions` are texts that
    describe an image/audio item (embedded as extra text vectors).
    """

    id: str
    modality: str  # "text" | "image" | "audio"
    uri: str | None = None
    text: str | None = None
    captions: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
