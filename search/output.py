"""How the CLI prints hits: a readable table on a terminal, JSON Lines
(one hit per line, `Hit.to_dict()` plus `rank`) when piped or asked to."""
from __future__ import annotations

from typing import Any, Iterable

from xmodal.alignment.core.items import Hit
from xmodal.alignment.core.output import rows_table

_COLUMNS = ("#", "score", "modality", "id", "text", "uri")


def hit_rows(hits: Iterable[Hit]) -> list[dict[str, Any]]:
    """The JSON Lines records: `Hit.to_dict()` plus its 1-based `rank` first."""
    return [{"rank": i, **h.to_dict()} for i, h in enumerate(hits, 1)]


def hits_table(hits: list[Hit], width: int | None = None) -> str:
    """The hits as the one CLI table (`alignment.core.output.rows_table`):
    headers, widths fitted to the terminal, long ids and paths wrapped,
    never cut."""
    rows = [{"#": i, "score": f"{h.score:.4f}", "modality": h.modality, "id": h.id,
             "text": h.metadata.get("text") or h.metadata.get("caption") or "", "uri": h.uri or ""}
            for i, h in enumerate(hits, 1)]
    return rows_table(rows, [(c, c if c != "text" else "text / caption") for c in _COLUMNS],
                      right=("#", "score"), width=width)
