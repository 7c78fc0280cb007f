"""Writer side of an index directory: one writer at a time (a lock file),
generations written beside the live one, and the manifest rename as the
single commit point. Anything a crashed writer left behind (index files of
an unpublished generation, metadata rows it added) is rolled back the next
time a writer opens the directory."""
from __future__ import annotations

import fcntl
from pathlib import Path

import faiss

from xmodal.alignment.core.atomic import atomic_path
from xmodal.alignment.core.errors import XmodalError

from .manifest import (META_NAME, MANIFEST_NAME, SHARDS_DIR, IndexManifest, file_entry,
                       index_file_name, publish_manifest, read_manifest)
from .metadata import MetaStore

LOCK_NAME = ".writer.lock"
KEEP_GENERATIONS = 2  # readers pinned to the previous generation keep working


class Writer:
    """Exclusive writer of one index directory (use as a context manager)."""

    def __init__(self, index_dir: str | Path, create: bool = False):
        self.dir = Path(index_dir)
        if create:
            self.dir.mkdir(parents=True, exist_ok=True)
        elif not (self.dir / MANIFEST_NAME).is_file():
            read_manifest(self.dir)  # raises the "not an xmodal index" line
        self._lock_fh = open(self.dir / LOCK_NAME, "a+")
        try:
            fcntl.flock(self._lock_fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_fh.close()
            raise XmodalError(f"{self.dir}: another xmodal process is writing this index; "
                              "wait for it to finish") from None
        self.manifest: IndexManifest | None = (
            read_manifest(self.dir) if (self.dir / MANIFEST_NAME).is_file() else None)
        self._previous_ivfdata = self.manifest.stats.ivfdata if self.manifest else None
        self.meta: MetaStore | None = None

    @property
    def generation(self) -> int:
        return self.manifest.generation if self.manifest else 0

    def open_meta(self) -> MetaStore:
        """The metadata store, with any unpublished writes rolled back."""
        if self.meta is None:
            self.meta = MetaStore(self.dir / META_NAME)
            self.meta.rollback_after(self.generation)
        return self.meta

    def write_index(self, index: faiss.Index, generation: int) -> str:
        """Write the FAISS file of `generation` atomically; returns its name."""
        name = index_file_name(generation)
        with atomic_path(self.dir / name) as tmp:
            faiss.write_index(index, str(tmp))
        return name

    def file_entries(self, index_name: str) -> dict[str, dict]:
        """Checksums of the index file and of every (immutable) shard file.

        The live SQLite database is not checksummed: it changes in place
        under WAL; its consistency comes from the generation columns."""
        prev = self.manifest.files if self.manifest else {}
        files = {index_name: file_entry(self.dir / index_name)}
        shard_dir = self.dir / SHARDS_DIR
        used = self.open_meta().shards_in_use()
        if shard_dir.is_dir():
            for p in sorted(shard_dir.iterdir()):
                if p.name.startswith(".") or p.stem not in used:
                    continue
                rel = f"{SHARDS_DIR}/{p.name}"
                old = prev.get(rel)
                if old and old.get("bytes") == p.stat().st_size:
                    files[rel] = old  # shards never change once finished
                else:
                    files[rel] = file_entry(p)
        return files

    def publish(self, manifest: IndexManifest) -> None:
        """Commit: atomically replace the manifest, then drop old generations."""
        publish_manifest(self.dir, manifest)
        if self.manifest is not None:
            self._previous_ivfdata = self.manifest.stats.ivfdata
        self.manifest = manifest
        self._collect(manifest.generation)

    def _collect(self, generation: int) -> None:
        for p in self.dir.glob("index.*.faiss"):
            try:
                gen = int(p.name.split(".")[1])
            except (IndexError, ValueError):
                continue
            if gen <= generation - KEEP_GENERATIONS or gen > generation:
                p.unlink(missing_ok=True)
        for p in self.dir.glob(".index.*.faiss.tmp*"):  # left by a killed writer
            p.unlink(missing_ok=True)
        # on-disk inverted lists outlive their generation's file: every later
        # generation of the index maps the same data until the next rebuild
        keep = {self.manifest.stats.ivfdata} if self.manifest else set()
        for p in self.dir.glob("index.*.ivfdata"):
            if p.name not in keep and not self._kept_by_previous(p.name):
                p.unlink(missing_ok=True)

    def _kept_by_previous(self, name: str) -> bool:
        """True while the previous generation (still open in readers) maps `name`."""
        gen = self.manifest.generation - 1 if self.manifest else 0
        return (self.dir / f"index.{gen}.faiss").is_file() and name == self._previous_ivfdata

    def close(self) -> None:
        if self.meta is not None:
            self.meta.close()
            self.meta = None
        fcntl.flock(self._lock_fh, fcntl.LOCK_UN)
        self._lock_fh.close()

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
