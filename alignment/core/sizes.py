"""Sizes a user types: memory budgets ("2G", "512M", "1.5GiB")."""
from __future__ import annotations

import re

from .errors import BadInput

_SIZE = re.compile(r"\s*([0-9]*\.?[0-9]+)\s*([kmgt]?)i?b?\s*")
_SCALE = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_memory(text: str | int | None, default: int | None = None) -> int:
    """'2G', '512M', '1.5GB', '64KiB', 1073741824 -> bytes (binary units).

    None gives `default` (BadInput when there is none); anything else that
    is not a size is a BadInput naming it."""
    if text is None and default is not None:
        return default
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    m = _SIZE.fullmatch(str(text).lower()) if text is not None else None
    if not m:
        raise BadInput(f"memory budget '{text}'", "not a size", "write e.g. 512M, 2G or 1.5G")
    return int(float(m.group(1)) * _SCALE[m.group(2)])
