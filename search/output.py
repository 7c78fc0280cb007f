"""How the CLI prints hits: a readable table on a terminal, JSON Lines
(one hit per line, `Hit.to_dict()` plus `rank`) when piped or asked to."""
from __future__ import annotations

import shutil
from typing import Any, Iterable

from xmodal.alignment.core.items import Hit

_COLUMNS = ("#", "score", "modality", "id", "text / caption", "uri")


def hit_rows(hits: Iterable[Hit]) -> list[dict[str, Any]]:
    """The JSON Lines records: `Hit.to_dict()` plus its 1-based `rank` first."""
    return [{"rank": i, **h.to_dict()} for i, h in enumerate(hits, 1)]


def _clip(value: str, width: int) -> str:
    value = " ".join(value.split())  # newlines/tabs would break the table
    return value if len(value) <= width else value[: max(width - 1, 0)] + "…"


def hits_table(hits: list[Hit], width: int | None = None) -> str:
    """Fixed-width table sized to the terminal; long cells are clipped."""
    width = width or shutil.get_terminal_size((120, 24)).columns
    rows = [
        (str(i), f"{h.score:.4f}", h.modality, h.id,
         str(h.metadata.get("text") or h.metadata.get("caption") or ""), h.uri or "")
        for i, h in enumerate(hits, 1)
    ]
    fixed = [max(len(_COLUMNS[c]), *(len(r[c]) for r in rows)) for c in range(3)]
    # Share what is left between id, text and uri: ids matter most, then
    # the caption; uris are long and least useful in a table.
    rest = max(width - sum(fixed) - 2 * 5, 30)
    id_w = min(max(len(_COLUMNS[3]), *(len(r[3]) for r in rows)), rest * 2 // 5)
    uri_w = min(max(len(_COLUMNS[5]), *(len(r[5]) for r in rows)), rest // 4)
    text_w = max(rest - id_w - uri_w, 10)
    widths = fixed + [id_w, text_w, uri_w]

    def line(cells) -> str:
        out = []
        for c, (cell, w) in enumerate(zip(cells, widths)):
            cell = _clip(cell, w)
            out.append(cell.rjust(w) if c in (0, 1) else cell.ljust(w))
        return "  ".join(out).rstrip()

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(_COLUMNS), sep, *(line(r) for r in rows)]) + "\n"
