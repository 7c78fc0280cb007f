"""The list of named snapshots (`snapshots.json`): which generations must
stay restorable. Read by the purge in `indexing` and by `snapshots`."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xmodal.alignment.core.errors import XmodalError

SNAPSHOTS_NAME = "snapshots.json"


@dataclass
class Snapshot:
    """One named generation."""

    name: str
    generation: int
    created: float
    counts: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "generation": self.generation, "created": self.created, "counts": self.counts}


def read_snapshots(index_dir: str | Path) -> dict[str, Snapshot]:
    """The named snapshots of an index (none when the file is absent)."""
    path = Path(index_dir) / SNAPSHOTS_NAME
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
        return {n: Snapshot(n, int(s["generation"]), float(s.get("created", 0)), dict(s.get("counts", {})))
                for n, s in data.items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        raise XmodalError(f"{path}: unreadable snapshot list; fix or delete it "
                          "(the index itself is unaffected)") from None


def kept_generations(index_dir: str | Path) -> list[int] | None:
    """Generations a snapshot names (their rows must not be purged); None
    when the snapshot list is unreadable (then nothing may be purged)."""
    try:
        return sorted({s.generation for s in read_snapshots(index_dir).values()})
    except XmodalError:
        return None  # unreadable list: purging could lose a snapshot, so nothing is purged
