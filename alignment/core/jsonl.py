"""Reading JSON Lines files: one place for line numbering, blank lines and
bad JSON, so every reader (corpora, training data, index manifests) names a
bad line the same way and only decides what to do with it."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator


def json_lines(path: Path, label: str | None = None,
               errors: str = "strict") -> Iterator[tuple[str, Any, str | None]]:
    """Yield `(where, value, problem)` per non-blank line, `where` being
    "label:lineno" (label defaults to the path). `problem` is set, and
    `value` None, when the line is not valid JSON."""
    label = str(path) if label is None else label
    with open(path, encoding="utf-8", errors=errors) as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{label}:{n}"
            try:
                yield where, json.loads(line), None
            except json.JSONDecodeError as exc:
                yield where, None, f"invalid JSON ({exc.msg})"
