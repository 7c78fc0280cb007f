"""Corpus readers: folders, JSONL/CSV/Parquet manifests, WebDataset tars.

`read_corpus(paths)` picks the reader from each path, and yields `Record`s
and `Skipped` entries (with reasons) in a deterministic order, duplicates
reported and dropped. What the paths may make us read is confined to their
roots (see `confine`)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator, Sequence

from xmodal.alignment.core.errors import XmodalError
from xmodal.alignment.core.items import Record

from .base import ABSOLUTE, Entry, Skipped, dedupe, relative_id
from .confine import MAX_TEXT_BYTES, Confinement, safe_text
from .folder import read_folder
from .manifests import read_csv, read_jsonl, read_parquet
from .sniff import sniff_file
from .tar import read_tar

MANIFEST_READERS = {".jsonl": read_jsonl, ".ndjson": read_jsonl, ".csv": read_csv,
                    ".parquet": read_parquet, ".pq": read_parquet}


def _id_root(p: Path, roots: Sequence[str | Path], fixed: bool = False) -> Path | None:
    """The id root `p` lies inside (its ids are relative to it). With
    `fixed` (the roots are an index's id roots) `p` may be the root itself,
    and a path outside every root gets `ABSOLUTE` (ids: absolute paths)."""
    for r in roots:
        r = Path(r).resolve()
        if r.is_dir() and (r in p.parents or (fixed and p == r)):
            return r
    return ABSOLUTE if fixed else None


def read_path(path: str | Path, roots: Sequence[str | Path] = (),
              confine: Confinement | None = None,
              id_roots: Sequence[str | Path] | None = None) -> Iterator[Entry]:
    """Entries of one corpus path (folder, manifest, tar, or a single file).

    `id_roots` (an index's, see `indexer.ids`): a path inside one gets ids
    relative to it, so `index add` of an indexed file upserts it; a path
    outside all of them gets absolute-path ids, distinct from every indexed
    one. Without `id_roots` (a build), ids are relative to the path itself
    (or to the one of `roots` it lies in). A manifest's ids are its own.
    `confine`: what entries may resolve to (default: this path's roots)."""
    if not Path(path).exists():
        raise XmodalError(f"{path}: corpus path does not exist")
    p = Path(path).resolve()  # absolute uris: search may run from another directory
    confine = confine or Confinement.for_paths([p])
    if not p.is_dir():
        problem = confine.check(p)  # a FIFO or /proc file given as the corpus itself
        if problem:
            yield problem
            return
    id_root = _id_root(p, roots) if id_roots is None else _id_root(p, id_roots, fixed=True)
    if p.is_dir():
        yield from read_folder(p, id_root, confine)
    elif p.suffix.lower() in MANIFEST_READERS:
        yield from MANIFEST_READERS[p.suffix.lower()](p, confine)
    elif p.suffix.lower() == ".tar":
        yield from read_tar(p, id_root or p.parent, confine)
    else:
        yield from read_folder_single(p, id_root, confine)


def read_folder_single(p: Path, id_root: Path | None = None,
                       confine: Confinement | None = None) -> Iterator[Entry]:
    """A single media/text file given directly (e.g. `index add DIR a.png`)."""
    confine = confine or Confinement.for_paths([p])
    where = safe_text(str(p))
    item_id = safe_text(relative_id(id_root, p) if id_root else p.name)
    modality, reason = sniff_file(p)
    if modality is None:
        yield Skipped(where, reason or "unknown content")
        return
    if modality == "text":
        raw, problem = confine.read_text_bytes(p)
        text = raw.decode("utf-8", errors="replace").strip() if raw is not None else ""
        yield problem or (Record(item_id, "text", uri=str(p), text=text) if text else Skipped(where, "empty text"))
        return
    caps = []
    caption = p.with_suffix(".txt")
    if caption.is_file():
        raw, problem = confine.read_text_bytes(caption)
        if problem:
            yield problem
        elif raw is not None:
            caps = [raw.decode("utf-8", errors="replace").strip()]
    yield Record(item_id, modality, uri=str(p), captions=caps)


def read_corpus(paths: Sequence[str | Path] | str | Path, roots: Sequence[str | Path] = (),
                allow_roots: Sequence[str | Path] = (), max_text_bytes: int = MAX_TEXT_BYTES,
                id_roots: Sequence[str | Path] | None = None) -> Iterator[Entry]:
    """All entries of all paths, in order, duplicate ids reported once each.

    Entries may resolve inside the paths themselves, the `roots` of an
    existing index and `allow_roots` (`--allow-root`); texts and captions
    are capped at `max_text_bytes`. `id_roots`: see `read_path`."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    confine = Confinement.for_paths([Path(p).resolve() for p in paths], [*roots, *allow_roots], max_text_bytes)

    def chain() -> Iterable[Entry]:
        for p in paths:
            yield from read_path(p, roots, confine, id_roots)

    return dedupe(chain())


__all__ = ["Entry", "Record", "Skipped", "read_corpus", "read_path"]
