"""A folder tree of images, audio and texts, clip-retrieval style: a media
file's sidecars share its stem (``cat.png`` + ``cat.txt`` caption +
``cat.json`` metadata). A ``.txt`` with no media beside it is a text item.
Ids are paths relative to the root; ``.tar`` files inside are read as
WebDataset shards. Files are visited in sorted order so ids, shards and
labels are the same on every run.

Every entry passes the corpus `Confinement` first (symlinks resolving out
of the roots, FIFOs and devices are skipped with a line, never opened);
texts and captions are size-capped; ids escape undecodable name bytes."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

from xmodal.alignment.preprocess.text import escape_tree

from xmodal.alignment.core.items import Record
from .base import Entry, Skipped, caption_text, guarded, parse_sidecar_json, relative_id
from .confine import Confinement, safe_text
from .sniff import TEXT_EXT, sniff_file
from .tar import read_tar


def _walk(root: Path) -> Iterator[tuple[Path, list[str], list[str]]]:
    """(folder, its files, its symlinked sub-folders: never followed)."""
    for dirpath, dirs, files in os.walk(root, onerror=None, followlinks=False):
        linked = sorted(d for d in dirs if os.path.islink(os.path.join(dirpath, d)))
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not d.endswith(".xmodal")
                         and d not in linked)
        yield Path(dirpath), sorted(f for f in files if not f.startswith(".")), linked


def read_folder(root: str | Path, id_root: str | Path | None = None,
                confine: Confinement | None = None) -> Iterator[Entry]:
    """Records for every usable file under `root`; Skipped for the rest.

    Ids are relative to `id_root` (default `root`): adding a subfolder of an
    indexed corpus gives the same ids the full build gave. `confine`
    (default: `root` alone) says what the entries may resolve to."""
    root = Path(root)
    base = Path(id_root) if id_root is not None else root
    confine = confine or Confinement.for_paths([root])
    for dirpath, files, linked in _walk(root):
        for d in linked:
            yield Skipped(safe_text(str(dirpath / d)), "symlinked folder: not followed")
        stems: dict[str, list[str]] = {}
        for f in files:
            stems.setdefault(Path(f).stem, []).append(f)
        for stem in sorted(stems):
            where = safe_text(str(dirpath / stem))
            yield from guarded(lambda: _group(base, dirpath, stems[stem], confine), where)


def _rel_id(root: Path, p: Path) -> str:
    return safe_text(relative_id(root, p))


def _group(root: Path, d: Path, names: list[str], confine: Confinement) -> Iterator[Entry]:
    media: list[tuple[Path, str]] = []
    txt: list[Path] = []
    js: list[Path] = []
    for name in names:
        p = d / name
        problem = confine.check(p)
        if problem:
            yield problem
            continue
        ext = p.suffix.lower()
        if ext == ".tar":
            yield from read_tar(p, root, confine)
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
                yield Skipped(safe_text(str(p)), reason or "unknown content")
    captions: list[str] = []
    metadata: dict = {}
    if media:
        for p in txt:
            raw, problem = confine.read_text_bytes(p)
            cap, problem = caption_text(raw, safe_text(str(p))) if raw is not None else (None, problem)
            if problem:
                yield problem
            elif cap is not None:
                captions.append(cap)
    for p in js:
        if not media and not txt:
            yield Skipped(safe_text(str(p)), "metadata sidecar without an item beside it")
            continue
        raw, problem = confine.read_text_bytes(p)
        if raw is not None:
            meta, extra, problem = parse_sidecar_json(raw, safe_text(str(p)))
            metadata.update(escape_tree(meta))
            captions.extend(escape_tree(extra))
        if problem:
            yield problem
    for p, modality in media:
        yield Record(id=_rel_id(root, p), modality=modality, uri=str(p),
                     captions=list(captions), metadata=dict(metadata))
    if not media:
        for p in txt:
            yield from _text_record(root, p, metadata, confine)


def _text_record(root: Path, p: Path, metadata: dict, confine: Confinement) -> Iterator[Entry]:
    where = safe_text(str(p))
    raw, problem = confine.read_text_bytes(p)
    if problem:
        yield problem
        return
    if not raw:
        yield Skipped(where, "empty file (0 bytes)")
        return
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        yield Skipped(where, "text file is not UTF-8")
        return
    if not text:
        yield Skipped(where, "empty text (whitespace only)")
        return
    yield Record(id=_rel_id(root, p), modality="text", uri=str(p), text=text, metadata=dict(metadata))
