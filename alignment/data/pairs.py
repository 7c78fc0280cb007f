"""The `Pair` record every corpus is made of, and its JSON Lines form.

One line of ``pairs.jsonl`` per item::

    {"id": ..., "modality": "image"|"audio"|"text", "path": "/abs/file",
     "captions": ["primary caption", ...], "group": "caption group", "metadata": {...}}

`group` is what splits are made by: items sharing a group always land in
the same split.
"""
from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ..core.errors import BadInput
from ..core.jsonl import read_json_lines

PAIR_MODALITIES = ("image", "audio", "text")
REBUILD = "re-run `xmodal data fetch` to rebuild the corpus"


@dataclass
class Pair:
    """One corpus item: a media file (or text) with its captions.

    The item type of every corpus and of the benchmarks' evaluation sets
    (`benchmarks.datasets.EvalItem` is this class). `group` is the caption
    group splits are made by, and links items across media in evaluation
    ("" = none). Training reads pairs into `train.data.Item`s."""

    id: str
    modality: str
    path: str
    captions: list[str] = field(default_factory=list)
    group: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "pair") -> "Pair":
        """Validate one decoded JSON line into a Pair (BadInput if unusable)."""
        missing = [k for k in ("id", "modality", "path", "captions", "group") if k not in d]
        if missing:
            raise BadInput(where, f"missing field(s) {', '.join(missing)}", REBUILD)
        if d["modality"] not in PAIR_MODALITIES:
            raise BadInput(where, f"unknown modality {d['modality']!r}",
                           f"use one of {', '.join(PAIR_MODALITIES)}")
        caps = d["captions"]
        if not isinstance(caps, list) or not caps or not all(isinstance(c, str) and c.strip()
                                                              for c in caps):
            raise BadInput(where, "captions must be a non-empty list of non-empty strings")
        return cls(id=str(d["id"]), modality=d["modality"], path=str(d["path"]),
                   captions=list(caps), group=str(d["group"]),
                   metadata=dict(d.get("metadata") or {}))


def write_pairs(path: Path, pairs: Iterable[Pair]) -> int:
    """Write pairs as JSON Lines (plain write; callers wrap in atomic_path)."""
    n = 0
    with open(path, "w", encoding="utf-8") as fh:
        for p in pairs:
            fh.write(p.to_json() + "\n")
            n += 1
    return n


def read_pairs(path: Path) -> list[Pair]:
    """Read a pairs JSON Lines file; a bad line raises BadInput naming it."""
    return [Pair.from_dict(line.value, line.where)
            for line in read_json_lines(path, on_bad="raise", objects=True, hint=REBUILD)]


def clean_text(s: str | None, max_chars: int = 300) -> str:
    """Collapse whitespace, drop control chars, cut at a word boundary."""
    if not s:
        return ""
    s = unicodedata.normalize("NFC", s)
    s = "".join(c if c.isprintable() else " " for c in s)
    s = re.sub(r"\s+", " ", s).strip()
    if len(s) > max_chars:
        cut = s[:max_chars].rsplit(" ", 1)[0]
        s = cut.rstrip(",;:-") + "..."
    return s


def group_key(text: str) -> str:
    """Normalised caption group: lower case, digits and punctuation dropped.

    "Clipart - arrow08_4" and "clipart arrow08 5" share a group, so numbered
    near-duplicates can never straddle splits."""
    s = unicodedata.normalize("NFKD", text.lower())
    s = re.sub(r"[\d_]+", " ", s)
    s = re.sub(r"[^\w]+", " ", s)
    return re.sub(r"\s+", " ", s).strip()
