"""The read API the search layer uses: `open_index(path)`.

A reader pins the generation named by the manifest it opened: the FAISS file
of that generation (memory-mapped where the index type allows) and the
metadata rows visible at that generation, which writers do not purge while
the reader is open (`pins`). Writers publish new generations beside it;
`is_stale()` tells the caller to reopen.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import faiss
import numpy as np

from xmodal.alignment.core.errors import XmodalError
from xmodal.alignment.core.items import Row
from xmodal.alignment.core.protocols import Embedder, Labels, Where

from .manifest import (MANIFEST_NAME, META_NAME, REPORT_NAME, IndexManifest, read_generation,
                       read_manifest)
from .inspect import require_intact
from .metadata import MetaStore
from .searching import exact_rerank, exact_topk, reranks, to_similarity, widen
from .searching import search as faiss_search
from .pins import pin
from .shards import VectorStore

if TYPE_CHECKING:
    from .ondisk import Residency
    from .sharded import IndexParts

# Below this many allowed labels a filtered search is answered exactly from
# the stored vectors: cheaper than probing an ANN structure for a few ids,
# and it never comes back short because the ids sat in unprobed lists.
EXACT_FILTER_LIMIT = 4096
# Once this many stored vectors were asked for (filtered exact searches,
# rescoring), every row's vector location is read into memory at once
# (about 8 bytes a row) instead of one SQLite lookup per call.
LOCATION_MAP_AFTER = 20_000


def load_faiss(path: Path, mmap: bool = True) -> faiss.Index:
    """Read a FAISS file, memory-mapped when the index type supports it."""
    if not path.is_file():
        raise XmodalError(f"{path}: index file missing; the index is damaged, rebuild it")
    if mmap:
        # Zero-copy mapping of flat codes / IVF lists; generation files are never
        # modified in place (only unlinked later), so a mapping stays valid.
        for flags in (faiss.IO_FLAG_MMAP_IFC, faiss.IO_FLAG_MMAP):
            try:
                return faiss.read_index(str(path), flags | faiss.IO_FLAG_READ_ONLY)
            except RuntimeError:
                continue  # this index type cannot be mapped this way
    try:
        return faiss.read_index(str(path))
    except RuntimeError as exc:
        raise XmodalError(f"{path}: unreadable FAISS index ({str(exc).splitlines()[0]}); rebuild it") from None


def load_parts(index_dir: Path, manifest: IndexManifest, mmap: bool = True) -> faiss.Index | IndexParts:
    """The generation's FAISS index: one file, or an `IndexParts` over the
    main file and `manifest.parts` (an on-disk main file maps its inverted
    lists from the .ivfdata beside it)."""
    main_path = index_dir / manifest.index_file
    ivfdata = manifest.stats.ivfdata
    if ivfdata:
        from .ondisk import load_ondisk

        if not (index_dir / ivfdata).is_file():
            raise XmodalError(f"{index_dir}: {ivfdata} missing; the index is damaged, rebuild it")
        try:
            main = load_ondisk(main_path)
        except RuntimeError as exc:
            raise XmodalError(f"{main_path}: unreadable on-disk index ({str(exc).splitlines()[0]}); "
                              "rebuild it") from None
    else:
        main = load_faiss(main_path, mmap)
    if not manifest.parts:
        return main
    from .sharded import IndexParts

    return IndexParts([main, *(load_faiss(index_dir / p, mmap) for p in manifest.parts)])


class IndexReader:
    """A read-only view of one generation of an index directory."""

    def __init__(self, path: str | Path, mmap: bool = True, memory: int | None = None):
        self.path = Path(path)
        for attempt in range(3):
            self._open_pinned()
            # A file the manifest lists gone or cut short is one clear line
            # here, not a traceback from whichever search path touches it
            # first; unless a writer published meanwhile (and tidied the
            # files of older generations): then open the new one.
            try:
                require_intact(self.path, self.manifest)
                break
            except XmodalError:
                if self._pin is not None:
                    self._pin.close()
                if attempt == 2 or read_generation(self.path) in (self.generation, None):
                    raise
        self.index = load_parts(self.path, self.manifest, mmap)
        # an on-disk index keeps its resident set under the memory budget
        # (the build's --memory unless the caller gives a serving budget)
        self.residency: Residency | None = None
        if self.manifest.stats.ivfdata:
            from .ondisk import Residency

            main = self.index.parts[0] if self.manifest.parts else self.index
            self.residency = Residency(main, memory or self.manifest.stats.memory_budget or 2**62)
        if self.index.d != self.manifest.dim:
            raise XmodalError(f"{self.path}: index dim {self.index.d} != manifest dim "
                              f"{self.manifest.dim}; the index is damaged, rebuild it")
        self.meta = MetaStore(self.path / META_NAME, readonly=True)
        self.store = VectorStore(self.path, self.manifest.dim)
        # Deleted rows some index types (HNSW) still hold: always filtered out.
        self._tombstones = self.meta.deleted_labels(self.generation)
        # Built once, not per query; the Not selector points into the batch
        # one, so both stay referenced from here.
        self._tomb_batch = faiss.IDSelectorBatch(self._tombstones) if len(self._tombstones) else None
        self._live = faiss.IDSelectorNot(self._tomb_batch) if self._tomb_batch is not None else None
        self._n_live: int | None = None
        self._all_labels: np.ndarray | None = None
        self._asked = 0  # stored vectors asked for so far
        self._loc_map: tuple[list[str], np.ndarray, np.ndarray] | None = None

    def _open_pinned(self, tries: int = 8) -> None:
        """Read the manifest and pin its generation, then check that it is
        still the published one: a reader overtaken by two publishes between
        its read and its pin could otherwise lose rows (or the index file)
        that the second publish purged. Retried until the pin is in time."""
        for _ in range(tries):
            # Stat before reading: a manifest published in between then reads
            # as changed, never as unchanged.
            self._manifest_stat = _stat_key(self.path / MANIFEST_NAME)
            self.manifest: IndexManifest = read_manifest(self.path)
            self.generation = self.manifest.generation
            # From here on no writer purges the rows this generation can return.
            self._pin = pin(self.path, self.generation)
            if read_generation(self.path) in (self.generation, None) or self._pin is None:
                return
            self._pin.close()  # overtaken by a publish: pin the newer one
        raise XmodalError(f"{self.path}: the index kept changing while opening it "
                          f"({tries} publishes in a row); retry when its writer is done")

    # ---- search ------------------------------------------------------
    def search(self, q: np.ndarray, k: int, labels: Labels | None = None,
               rescore: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Top-k by inner product -> (scores (n,k) float32, labels (n,k)
        int64, -1 padded), best first.

        `labels` restricts results to that allowed set (pre-filter). Every
        row is complete: a few allowed labels are searched exactly, many
        with nprobe/efSearch widened by the filter's selectivity, and an
        ANN answer that still comes back short is redone exactly.
        `rescore`: ANN scores are replaced by exact ones from the stored
        vectors (unless the index's own re-ranking already did that)."""
        q = self._query(q)
        k = int(k)
        sp = self.manifest.search_params
        if labels is None:
            allowed, n_allowed = None, self._live_count()
            scores, found = faiss_search(self.index, q, k, sp, self._live, self.vectors)
        else:
            allowed = np.asarray(labels, dtype=np.int64)
            if len(self._tombstones):
                allowed = np.setdiff1d(allowed, self._tombstones)
            allowed = allowed[allowed >= 0]
            if self._keeps_all(allowed):
                return self.search(q, k, None, rescore)  # no selector over every row
            if len(allowed) <= EXACT_FILTER_LIMIT:
                return exact_topk(self.vectors, q, k, allowed)
            n_allowed = len(allowed)
            sel = faiss.IDSelectorBatch(allowed)
            scores, found = faiss_search(self.index, q, k, widen(sp, self.index.ntotal / n_allowed), sel,
                                         self.vectors)
        if self.residency is not None:
            self.residency.tick()
        scores = to_similarity(np.asarray(scores, np.float32), self.manifest.metric)
        scores[found < 0] = -np.inf  # FAISS pads with -FLT_MAX; the exact paths with -inf
        short = (found >= 0).sum(axis=1) < min(k, n_allowed)
        if rescore and not reranks(sp) and not short.all():
            ann = ~short
            scores[ann], found[ann] = exact_rerank(q[ann], found[ann], k, self.vectors)
        if short.any():
            # ANN under a selective filter (HNSW, IVF with few probes) or
            # over tombstones can miss rows that exist: answer exactly.
            pool = allowed if allowed is not None else self.labels_where()
            scores[short], found[short] = exact_topk(self.vectors, q[short], k, pool)
        return scores, found

    def _keeps_all(self, allowed: np.ndarray) -> bool:
        """True when `allowed` is exactly the live rows (a filter keeping 100%)."""
        if len(allowed) != self._live_count():
            return False
        if self._all_labels is None:
            self._all_labels = self.labels_where()
        ordered = allowed if np.all(allowed[1:] > allowed[:-1]) else np.unique(allowed)
        return bool(np.array_equal(ordered, self._all_labels))

    def _query(self, q: np.ndarray) -> np.ndarray:
        q = np.asarray(q, dtype=np.float32)
        if q.ndim == 1:
            q = q[None, :]
        if q.ndim != 2 or q.shape[1] != self.manifest.dim:
            raise XmodalError(f"query vectors have shape {q.shape}; this index "
                              f"({self.path}) needs (n, {self.manifest.dim})")
        return q

    def _live_count(self) -> int:
        """Rows live in this generation (the manifest counts them)."""
        if self._n_live is None:
            total = self.manifest.counts.get("total")
            self._n_live = int(total) if isinstance(total, int) else len(self.labels_where())
        return self._n_live

    # ---- metadata ----------------------------------------------------
    def rows(self, labels: Labels) -> list[Row]:
        """Rows for these labels, in order; unknown labels raise XmodalError."""
        got = self.meta.rows([int(x) for x in labels])
        missing = [int(lab) for lab, r in zip(labels, got) if r is None]
        if missing:
            raise XmodalError(f"{self.path}: unknown label(s) {missing[:5]}")
        return got  # type: ignore[return-value]

    def labels_where(self, modality: str | None = None, kind: str | None = None,
                     where: Where | None = None) -> np.ndarray:
        """Labels live in this generation matching modality/kind/metadata filters."""
        return self.meta.labels_where(self.generation, modality, kind, where)

    def label_of(self, id: str) -> int | None:
        """The label of a live row with this id, or None."""
        return self.meta.label_of(id, self.generation)

    def vectors(self, labels: Labels) -> np.ndarray:
        """Stored vectors (float32 (n, d)) for exact re-scoring / more-like-this."""
        labels = np.asarray(labels, dtype=np.int64).ravel()
        self._asked += len(labels)
        if self._loc_map is None and self._asked >= LOCATION_MAP_AFTER:
            self._loc_map = self.meta.location_map()
        if self._loc_map is not None:
            names, shard_of, row_of = self._loc_map
            inside = (labels >= 0) & (labels < len(shard_of))
            if inside.all() and (shard_of[labels] >= 0).all():  # else: rows added later, or unknown
                return self.store.gather_arrays(names, shard_of[labels], row_of[labels])
        locs = self.meta.locations(labels)
        missing = [int(x) for x in labels if int(x) not in locs]
        if missing:
            raise XmodalError(f"{self.path}: no stored vector for label(s) {missing[:5]}")
        return self.store.gather([locs[int(x)] for x in labels])

    def media_roots(self) -> list[str]:
        """Where this index's media uris may point: the corpus roots the
        build recorded in the manifest (older indexes: the `corpus` list of
        their build report). A root that is a file (a tar shard, a manifest
        CSV/JSONL) contributes its own path and its folder."""
        found = _strings(self.manifest.stats.corpus_roots)
        if not found:
            try:
                report = json.loads((self.path / REPORT_NAME).read_text())
                found = _strings(report.get("corpus")) if isinstance(report, dict) else []
            except (OSError, ValueError):
                found = []
        roots: list[str] = []
        for root in found:
            roots.append(root)
            if os.path.isfile(root) and not root.lower().endswith(".tar"):
                roots.append(os.path.dirname(os.path.abspath(root)))  # a manifest names files beside it
        return roots

    # ---- freshness / compatibility ------------------------------------
    def is_stale(self) -> bool:
        """True when a newer generation has been published since opening.

        Called per query: the manifest is only re-read when its stat changed
        (publishing is an atomic rename, so a new manifest is a new inode)."""
        key = _stat_key(self.path / MANIFEST_NAME)
        if key == self._manifest_stat:
            return False
        gen = read_generation(self.path)
        if gen == self.generation:
            self._manifest_stat = key
        return gen is not None and gen != self.generation

    def check_encoder(self, stack: Embedder) -> None:
        """Refuse a query encoder other than the one that built the index."""
        m = self.manifest
        spec, fp = stack.spec, stack.fingerprint
        if fp != m.encoder_fingerprint and (spec or "").strip() == m.encoder_spec.strip():
            # same name, other weights: e.g. an index built before xmodal
            # shipped a new 'lite' alignment; querying it would mix spaces
            raise XmodalError(
                f"index {self.path} was built with another encoder: '{m.encoder_spec}' with fingerprint "
                f"{m.encoder_fingerprint[:12]}, but '{spec}' here now has fingerprint {str(fp)[:12]} "
                f"(its towers or alignment changed since): rebuild the index with this xmodal "
                f"(xmodal index build ... --model {spec}) to query it")
        if fp != m.encoder_fingerprint or (spec or "").strip() != m.encoder_spec.strip():
            raise XmodalError(
                f"index {self.path} was built with encoder '{m.encoder_spec}' "
                f"(fingerprint {m.encoder_fingerprint[:12]}) but the query encoder is '{spec}' "
                f"(fingerprint {str(fp)[:12]}): query with --model {m.encoder_spec} or rebuild the index")
        dim = stack.dim
        if dim != m.dim:
            raise XmodalError(f"index {self.path} has dim {m.dim} but encoder '{spec}' gives {dim}")

    def close(self) -> None:
        self.meta.close()

    def __enter__(self) -> "IndexReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_index(path: str | Path, mmap: bool = True, memory: int | None = None) -> IndexReader:
    """Open an index directory read-only; the manifest is the only entry point.
    `memory`: the resident budget of an on-disk index (default: its build's)."""
    return IndexReader(path, mmap, memory)


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, str)]
    return []


def _stat_key(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size
