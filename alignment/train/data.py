"""Training items: what the trainer needs to know about one paired example.

An `Item` is one thing with any of: captions, an image, an audio clip
(e.g. a tuxpaint stamp has all three, an instrument clip has audio and
captions). The chain is `Pair` -> `Item`: a corpus is `Pair`s
(`alignment/data/pairs.py`: one media file with its captions and group;
benchmarks evaluate the same `Pair`s), a user's JSON Lines file holds item or
pair lines, and both are read into Items here by one conversion
(`item_from_obj`, via `items_from`); separate lines of one thing (a stamp's
picture and its sound) share a `link` (or `metadata.stamp`) and merge into
one text-image-audio item.

Splits are by `group`, never by row: near-duplicate items share a group
(identical titles), and a row split would leak them across splits.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ..core.errors import BadInput, XmodalError
from ..core.jsonl import JsonLine, read_json_lines

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


@dataclass
class Item:
    """One training/evaluation example. Paths are absolute strings."""

    id: str
    captions: list[str] = field(default_factory=list)
    image: str | None = None
    audio: str | None = None
    group: str = ""
    split: str | None = None
    corpus: str = ""

    @property
    def modalities(self) -> tuple[str, ...]:
        out = []
        if self.captions:
            out.append("text")
        if self.image:
            out.append("image")
        if self.audio:
            out.append("audio")
        return tuple(out)


def _captions(obj: dict[str, Any]) -> list[str]:
    caps = obj.get("captions")
    if caps is None:
        caps = obj.get("text") or obj.get("caption") or []
    if isinstance(caps, str):
        caps = [caps]
    return [c.strip() for c in caps if isinstance(c, str) and c.strip()]


def _resolve(path: str | None, base: Path) -> str | None:
    if not path:
        return None
    p = Path(path).expanduser()
    return str(p if p.is_absolute() else (base / p).resolve())


def item_from_obj(obj: dict[str, Any], base: Path, where: str) -> Item:
    """One JSON object -> Item. Accepts `{"id", "captions", "image", "audio",
    "group", "split"}`, a corpus `Pair` / the indexer's Record shape
    `{"id", "modality", "uri"|"path", "captions"}`, and `corpus`."""
    if not isinstance(obj, dict):
        raise BadInput(where, "not a JSON object")
    item_id = str(obj.get("id") or "").strip()
    if not item_id:
        raise BadInput(where, "has no 'id'", "give every line a unique id")
    image, audio = obj.get("image"), obj.get("audio")
    modality = obj.get("modality")
    uri = obj.get("uri") or obj.get("path")
    if modality == "image" and uri and not image:
        image = uri
    elif modality == "audio" and uri and not audio:
        audio = uri
    caps = _captions(obj)
    if not caps:
        raise BadInput(f"{where} (id {item_id})", "has no non-empty caption", "add 'captions': [...]")
    if not image and not audio and len(caps) < 2:
        raise BadInput(f"{where} (id {item_id})", "has neither an image nor an audio path")
    split = obj.get("split")
    if split is not None and split not in SPLITS:
        raise BadInput(f"{where} (id {item_id})", f"unknown split {split!r}", f"use one of {', '.join(SPLITS)}")
    return Item(
        id=item_id,
        captions=caps,
        image=_resolve(image, base),
        audio=_resolve(audio, base),
        group=str(obj.get("group") or caps[0].lower()),
        split=split,
        corpus=str(obj.get("corpus") or ""),
    )


def link_of(obj: dict[str, Any]) -> str | None:
    """The id that joins separate media lines of one thing into one item:
    `link`, else `metadata.stamp` (a tuxpaint stamp's image and its sound)."""
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    return obj.get("link") or meta.get("stamp")


def items_from(lines: Iterable[JsonLine], base: Path) -> tuple[list[Item], list[str]]:
    """Decoded JSON lines -> Items, the one way in for files and corpora:
    bad lines and repeated ids become skip lines, and lines sharing a
    `link_of` merge into one item (`merge_linked`)."""
    items: list[Item] = []
    links: list[str | None] = []
    skipped: list[str] = []
    seen: set[str] = set()
    for line in lines:
        if not line.ok:
            skipped.append(line.skip_line())
            continue
        try:
            item = item_from_obj(line.value, base, line.where)
        except BadInput as exc:
            skipped.append(f"skipped {exc}")
            continue
        if item.id in seen:
            skipped.append(f"skipped {line.where}: duplicate id {item.id}")
            continue
        seen.add(item.id)
        items.append(item)
        links.append(link_of(line.value))
    return merge_linked(items, links), skipped


def read_jsonl(path: str | Path) -> tuple[list[Item], list[str]]:
    """Items from a JSON Lines file; relative paths resolve against the
    file's folder. Returns (items, one skip line per bad row)."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(str(path), "no such file", "pass a JSON Lines file of {id, captions, image|audio}")
    items, skipped = items_from(read_json_lines(path, path.name, on_bad="report"), path.parent)
    if not items:
        raise BadInput(str(path), "contains no usable items", "; ".join(skipped[:3]) or "the file is empty")
    return items, skipped


def group_split(group: str, seed: int = 0, val: float = 0.1, test: float = 0.2) -> str:
    """Deterministic split of a group by hash (all members land together)."""
    h = int.from_bytes(hashlib.sha1(f"{seed}:{group}".encode()).digest()[:8], "big") / 2**64
    return "test" if h < test else ("val" if h < test + val else "train")


def assign_splits(items: Iterable[Item], seed: int = 0, val: float = 0.1, test: float = 0.2) -> list[Item]:
    """Fill in missing splits by group hash; explicit splits are kept."""
    out = []
    for it in items:
        if it.split is None:
            it.split = group_split(it.group, seed, val, test)
        out.append(it)
    return out


def by_split(items: Iterable[Item], split: str) -> list[Item]:
    return [it for it in items if it.split == split]


def items_digest(items: Iterable[Item]) -> str:
    """A hash of the data a model was trained/evaluated on (ids, captions,
    file names, splits), recorded in checkpoints. File names, not paths, so
    the digest does not depend on where the cache lives."""
    h = hashlib.sha256()
    for it in sorted(items, key=lambda i: i.id):
        names = [Path(p).name if p else None for p in (it.image, it.audio)]
        h.update(json.dumps([it.id, it.captions, names, it.group, it.split]).encode())
    return h.hexdigest()[:16]


def data_record(items: list[Item]) -> dict:
    """What a checkpoint records about its data: the digest of all items and
    of each corpus, with the item count of every split."""
    def counts(part: list[Item]) -> dict[str, int]:
        return {s: sum(1 for it in part if it.split == s) for s in SPLITS}

    corpora = sorted({it.corpus for it in items if it.corpus})
    by_corpus = {c: [it for it in items if it.corpus == c] for c in corpora}
    return {"items_sha256": items_digest(items), "counts": counts(items),
            "corpora": {c: {"items_sha256": items_digest(part), **counts(part)} for c, part in by_corpus.items()}}


def from_corpora(names: Iterable[str], cache: str | None = None) -> list[Item]:
    """Items of fetched corpora with their published train/val/test splits:
    each media `Pair` read through `items_from` like a JSON Lines line."""
    from ..data.corpora import load_corpus

    items: list[Item] = []
    for name in names:
        for split in SPLITS:
            pairs = [p for p in load_corpus(name, split, cache) if p.modality in ("image", "audio")]
            lines = (JsonLine(f"{name}/{split} {p.id}", {**asdict(p), "split": split, "corpus": name})
                     for p in pairs)
            got, skipped = items_from(lines, Path("/"))  # corpus paths are absolute
            for line in skipped:
                log.info(line)
            items += got
            log.info(f"{name}/{split}: {len(pairs)} pairs")
    return items


def read_files(files: Iterable[str], published_splits: bool) -> list[Item]:
    """Items of JSON Lines files; each skipped line is logged. With
    `published_splits`, a file named train/val/test sets its items' split."""
    items: list[Item] = []
    for path in files:
        got, skipped = read_jsonl(path)
        for line in skipped:
            log.info(line)
        for it in got:
            it.corpus = it.corpus or corpus_name(path)
            if published_splits and it.split is None and Path(path).stem in SPLITS:
                it.split = Path(path).stem  # a corpus's published split file
        items += got
    return items


def load_items(files: Iterable[str], corpora: Iterable[str] = (), cache: str | None = None,
               seed: int = 0) -> list[Item]:
    """Training items of JSON Lines files and fetched corpora, every one with
    a split (published, else hashed by group with `seed`)."""
    items = read_files(files, published_splits=True)
    corpora = list(corpora)
    if corpora:
        items += from_corpora(corpora, cache=cache)
    if not items:
        raise XmodalError("no training data: pass --data FILE.jsonl, --corpus NAME or --recipe NAME")
    return assign_splits(items, seed)


def corpus_name(path: str) -> str:
    """`.../openclipart/test.jsonl` -> openclipart; `mine.jsonl` -> mine."""
    p = Path(path)
    return p.parent.name if p.stem in (*SPLITS, "pairs") and p.parent.name else p.stem


def merge_linked(items: list[Item], links: list[str | None]) -> list[Item]:
    """Merge items sharing a link (a tuxpaint stamp's image item and sound
    item share `metadata.stamp`) into one text-image-audio triple, so that
    audio->image has a positive. Captions are the union, in order."""
    by_link: dict[str, Item] = {}
    out: list[Item] = []
    for it, link in zip(items, links):
        if not link:
            out.append(it)
            continue
        first = by_link.get(link)
        if first is None:
            by_link[link] = it
            it.id = link
            out.append(it)
            continue
        first.image = first.image or it.image
        first.audio = first.audio or it.audio
        first.captions += [c for c in it.captions if c not in first.captions]
    return out
