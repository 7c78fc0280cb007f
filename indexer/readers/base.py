"""What readers yield besides records: `Skipped` (item + reason), and the
sidecar conventions shared by folder and tar readers."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Union

from xmodal.alignment.core.items import Record, caption_id


@dataclass(frozen=True)
class Skipped:
    """An input that did not become a record, and why."""

    item: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"item": self.item, "reason": self.reason}


Entry = Union[Record, Skipped]

# Passed as the id root of a path outside an index's id roots (`index add
# other/dog.png`): its ids are absolute paths, which no root-relative id
# (never starting with '/') can equal.
ABSOLUTE = Path("/")


def relative_id(root: Path, p: Path) -> str:
    """`p`'s id: its path relative to `root`, or its absolute path when
    `root` is `ABSOLUTE` (a file outside every id root)."""
    return p.as_posix() if root == ABSOLUTE else p.relative_to(root).as_posix()


def parse_sidecar_json(raw: bytes | str, where: str) -> tuple[dict[str, Any], list[str], Skipped | None]:
    """Sidecar .json -> (metadata, extra captions, problem).

    A "caption"/"captions" key adds captions (clip-retrieval style); the
    rest is user metadata kept for display and filtering."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return {}, [], Skipped(where, f"sidecar JSON unreadable ({exc}); metadata ignored")
    if not isinstance(data, dict):
        return {}, [], Skipped(where, "sidecar JSON is not an object; metadata ignored")
    captions: list[str] = []
    for key in ("caption", "captions"):
        value = data.pop(key, None)
        if isinstance(value, str):
            captions.append(value)
        elif isinstance(value, list):
            captions.extend(str(v) for v in value)
    return data, captions, None


def caption_text(raw: bytes, where: str) -> tuple[str | None, Skipped | None]:
    """Sidecar .txt -> one caption (the whole file, stripped)."""
    try:
        return raw.decode("utf-8").strip(), None
    except UnicodeDecodeError:
        return None, Skipped(where, "caption file is not UTF-8; caption ignored")


def dedupe(entries: Iterable[Entry]) -> Iterator[Entry]:
    """Drop records whose id, or the id one of their captions will get, was
    already taken (by an item or a caption), reporting each collision."""
    seen: dict[str, str] = {}
    for e in entries:
        if isinstance(e, Record):
            ids = [e.id, *(caption_id(e.id, j) for j in range(len(e.captions)))]
            clash = next((i for i in ids if i in seen), None)
            if clash is not None:
                whose = "" if clash == e.id else f" of its caption '{clash}'"
                yield Skipped(str(e.uri or e.id), f"duplicate id{whose} '{clash}' (first seen at {seen[clash]})")
                continue
            where = str(e.uri or e.id)
            seen.update({i: where if i == e.id else f"a caption of {where}" for i in ids})
        yield e


def guarded(read: Callable[[], Iterable[Entry]], where: str) -> Iterator[Entry]:
    """The entries `read()` gives for one item (or group); an unexpected
    error reading it becomes one Skipped line: no single file aborts a job."""
    try:
        yield from read()
    except Exception as exc:  # a reader or library bug on hostile input
        yield Skipped(where, f"could not be read ({type(exc).__name__}: {str(exc)[:200]})")
