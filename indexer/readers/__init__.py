"""Corpus readers: folders, JSONL/CSV/Parquet manifests, WebDataset tars.

`read_corpus(paths)` picks the reader from each path, and yields `Record`s
and `Skipped` entries (with reasons) in a deterministic order, duplicates
reported and dropped."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator, Sequence

from xmodal.alignment.errors import XmodalError

from ..records import Record
from .base import Entry, Skipped, dedupe
from .folder import read_folder
from .manifests import read_csv, read_jsonl, read_parquet
from .sniff import sniff_file
from .tar import read_tar

MANIFEST_READERS = {".jsonl": read_jsonl, ".ndjson": read_jsonl, ".csv": read_csv,
                    ".parquet": read_parquet, ".pq": read_parquet}


def read_path(path: str | Path) -> Iterator[Entry]:
    """Entries of one corpus path (folder, manifest, tar, or a single file)."""
    p = Path(path)
    if p.is_dir():
        yield from read_folder(p)
    elif not p.exists():
        raise XmodalError(f"{p}: corpus path does not exist")
    elif p.suffix.lower() in MANIFEST_READERS:
        yield from MANIFEST_READERS[p.suffix.lower()](p)
    elif p.suffix.lower() == ".tar":
        yield from read_tar(p, p.parent)
    else:
        yield from read_folder_single(p)


def read_folder_single(p: Path) -> Iterator[Entry]:
    """A single media/text file given directly (e.g. `index add DIR a.png`)."""
    modality, reason = sniff_file(p)
    if modality is None:
        yield Skipped(str(p), reason or "unknown content")
    elif modality == "text":
        text = p.read_text(encoding="utf-8").strip()
        yield Record(p.name, "text", uri=str(p), text=text) if text else Skipped(str(p), "empty text")
    else:
        caption = p.with_suffix(".txt")
        caps = [caption.read_text(encoding="utf-8", errors="replace").strip()] if caption.is_file() else []
        yield Record(p.name, modality, uri=str(p), captions=caps)


def read_corpus(paths: Sequence[str | Path] | str | Path) -> Iterator[Entry]:
    """All entries of all paths, in order, duplicate ids reported once each."""
    if isinstance(paths, (str, Path)):
        paths = [paths]

    def chain() -> Iterable[Entry]:
        for p in paths:
            yield from read_path(p)

    return dedupe(chain())


__all__ = ["Entry", "Record", "Skipped", "read_corpus", "read_path"]
