"""Where an image or audio item's bytes come from: a path, raw bytes or an
open file. One place for the checks both decoders need (missing, empty,
unsupported type), so their error lines stay the same."""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from ..core.errors import BadInput


def describe(item: Any) -> str:
    """Printable name of an image/audio item for error lines."""
    if isinstance(item, (str, os.PathLike)):
        return str(item)
    if isinstance(item, (bytes, bytearray, memoryview)):
        return f"<{len(item)} bytes>"
    name = getattr(item, "filename", None) or getattr(item, "name", None)
    return str(name) if name else f"<{type(item).__name__}>"


def open_source(item: Any, name: str, kind: str, hint: str) -> Any:
    """Path -> str path, bytes -> BytesIO, file-like -> itself.

    `kind` ("image"/"audio") and `hint` (what the caller accepts) go into
    the error line for anything else."""
    if isinstance(item, (str, os.PathLike)):
        path = Path(item)
        if not path.is_file():
            raise BadInput(name, "file not found")
        if path.stat().st_size == 0:
            raise BadInput(name, "empty file (0 bytes)")
        return str(path)
    if isinstance(item, (bytes, bytearray, memoryview)):
        if len(item) == 0:
            raise BadInput(name, f"empty {kind} bytes")
        return io.BytesIO(bytes(item))
    if hasattr(item, "read"):
        return item
    raise BadInput(name, f"cannot read {kind} from {type(item).__name__}", hint)
