"""A folder tree of images, audio and texts, clip-retrieval style: a media
file's sidecars share its stem (``cat.png`` + ``cat.txt`` caption +
``cat.json`` metadata). A ``.txt`` with no media beside it is a text item.
Ids are paths relative to the root; ``.tar`` files inside are read as
WebDataset shards. Files are visited in sorted order so ids, shards and
labels are the same on every run."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

from .records import Record
from .base import Entry, Skipped, caption_text, parse_sidecar_json
from .sniff import TEXT_EXT, sniff_file
from .tar import read_tar


def _walk(root: Path) -> Iterator[tuple[Path, list[str]]]:
    for dirpath, dirs, files in os.walk(root, onerror=None, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not d.endswith(".xmodal"))
        yield Path(dirpath), sorted(f for f in files if not f.startswith("."))


def read_folder(root: str | Path, id_root: str | Path | None = None) -> Iterator[Entry]:
    """Records for every usable file under `root`; Skipped for the rest.

    Ids are relative to `id_root` (default `root`): adding a subfolder of an
    indexed corpus gives the same ids the full build gave."""
    root = Path(root)
    base = Path(id_root) if id_root is not None else root
    for dirpath, files in _walk(root):
        stems: dict[str, list[str]] = {}
        for f in files:
            stems.setdefault(Path(f).stem, []).append(f)
        for stem in sorted(stems):
            yield from _group(base, dirpath, stems[stem])


def _read_bytes(path: Path) -> tuple[bytes | None, Skipped | None]:
    try:
        return path.read_bytes(), None
    except OSError as exc:
        return None, Skipped(str(path), f"unreadable: {exc.strerror or exc}")


def _group(root: Path, d: Path, names: list[str]) -> Iterator[Entry]:
    media: list[tuple[Path, str]] = []
    txt: list[Path] = []
    js: list[Path] = []
    for name in names:
        p = d / name
        ext = p.suffix.lower()
        if ext == ".tar":
            yield from read_tar(p, root)
        elif ext in TEXT_EXT:
            txt.append(p)
        elif ext == ".json":
            js.append(p)
        else:
            modality, reason = sniff_file(p)
            if modality in ("image", "audio"):
                media.append((p, modality))
            elif modality == "text":
                txt.append(p)
            else:
                yield Skipped(str(p), reason or "unknown content")
    captions: list[str] = []
    metadata: dict = {}
    if media:
        for p in txt:
            raw, problem = _read_bytes(p)
            cap, problem = caption_text(raw, str(p)) if raw is not None else (None, problem)
            if problem:
                yield problem
            elif cap is not None:
                captions.append(cap)
    for p in js:
        if not media and not txt:
            yield Skipped(str(p), "metadata sidecar without an item beside it")
            continue
        raw, problem = _read_bytes(p)
        if raw is not None:
            meta, extra, problem = parse_sidecar_json(raw, str(p))
            metadata.update(meta)
            captions.extend(extra)
        if problem:
            yield problem
    for p, modality in media:
        yield Record(id=p.relative_to(root).as_posix(), modality=modality, uri=str(p),
                     captions=list(captions), metadata=dict(metadata))
    if not media:
        for p in txt:
            yield from _text_record(root, p, metadata)


def _text_record(root: Path, p: Path, metadata: dict) -> Iterator[Entry]:
    raw, problem = _read_bytes(p)
    if problem:
        yield problem
        return
    if not raw:
        yield Skipped(str(p), "empty file (0 bytes)")
        return
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        yield Skipped(str(p), "text file is not UTF-8")
        return
    if not text:
        yield Skipped(str(p), "empty text (whitespace only)")
        return
    yield Record(id=p.relative_to(root).as_posix(), modality="text", uri=str(p), text=text,
                 metadata=dict(metadata))
