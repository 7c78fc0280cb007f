"""Corpus readers: folders, JSONL/CSV/Parquet manifests, WebDataset tars.

`read_corpus(paths)` picks the reader from each path, and yields `Record`s
and `Skipped` entries (with reasons) in a deterministic order, duplicates
reported and dropped."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator, Sequence

from xmodal.alignment.core.errors import XmodalError

from .base import Entry, Skipped, dedupe
from .folder import read_folder
from .manifests import read_csv, read_jsonl, read_parquet
from .records import Record
from .sniff import sniff_file
from .tar import read_tar

MANIFEST_READERS = {".jsonl": read_jsonl, ".ndjson": read_jsonl, ".csv": read_csv,
                    ".parquet": read_parquet, ".pq": read_parquet}


def _id_root(p: Path, roots: Sequence[str | Path]) -> Path | None:
    """The known corpus root `p` lies inside (ids are relative to it)."""
    for r in roots:
        r = Path(r).resolve()
        if r.is_dir() and p != r and r in p.parents:
            return r
    return None


def read_path(path: str | Path, roots: Sequence[str | Path] = ()) -> Iterator[Entry]:
    """Entries of one corpus path (folder, manifest, tar, or a single file).

    `roots`: corpus roots of an existing index; a path inside one gets ids
    relative to that root, so `index add` of an indexed file upserts it."""
    if not Path(path).exists():
        raise XmodalError(f"{path}: corpus path does not exist")
    p = Path(path).resolve()  # absolute uris: search may run from another directory
    id_root = _id_root(p, roots)
    if p.is_dir():
        yield from read_folder(p, id_root)
    elif p.suffix.lower() in MANIFEST_READERS:
        yield from MANIFEST_READERS[p.suffix.lower()](p)
    elif p.suffix.lower() == ".tar":
        yield from read_tar(p, id_root or p.parent)
    else:
        yield from read_folder_single(p, id_root)


def read_folder_single(p: Path, id_root: Path | None = None) -> Iterator[Entry]:
    """A single media/text file given directly (e.g. `index add DIR a.png`)."""
    item_id = p.relative_to(id_root).as_posix() if id_root else p.name
    modality, reason = sniff_file(p)
    if modality is None:
        yield Skipped(str(p), reason or "unknown content")
    elif modality == "text":
        text = p.read_text(encoding="utf-8").strip()
        yield Record(item_id, "text", uri=str(p), text=text) if text else Skipped(str(p), "empty text")
    else:
        caption = p.with_suffix(".txt")
        caps = [caption.read_text(encoding="utf-8", errors="replace").strip()] if caption.is_file() else []
        yield Record(item_id, modality, uri=str(p), captions=caps)


def read_corpus(paths: Sequence[str | Path] | str | Path,
                roots: Sequence[str | Path] = ()) -> Iterator[Entry]:
    """All entries of all paths, in order, duplicate ids reported once each."""
    if isinstance(paths, (str, Path)):
        paths = [paths]

    def chain() -> Iterable[Entry]:
        for p in paths:
            yield from read_path(p, roots)

    return dedupe(chain())


__all__ = ["Entry", "Record", "Skipped", "read_corpus", "read_path"]
