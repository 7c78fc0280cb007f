"""What a corpus builder returns, shared by all corpora."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .pairs import Pair

Log = Callable[[str], None]


@dataclass
class Built:
    """A corpus builder's result: items, skipped items with reasons, notes."""

    pairs: list[Pair] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    def skip(self, item: str, reason: str) -> None:
        self.skipped.append({"item": item, "reason": reason})

    def checked(self, path: Any, check: Callable[[Any], Any]) -> Any:
        """`check(path)` (an image/audio header check), or None after
        recording the skip when it raises BadInput."""
        from ..core.errors import BadInput

        try:
            return check(path)
        except BadInput as exc:
            self.skip(str(path), exc.reason)
            return None
