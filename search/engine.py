"""`Engine`: encode a query, search one or more indexes, join metadata,
return `Hit`s.

Python use::

    from xmodal.search import Engine, Query, SearchOptions
    engine = Engine.open("my.xmodal")
    hits = engine.search(Query(text="a dog on the beach"), k=10, target="image")
    hits = engine.search_batch([Query(text="a dog")], SearchOptions(k=5, dedup=0.95))[0]

The engine merges several indexes, leaves the query's own item out and
gives dedup its headroom; how one index is searched (exact below a filter
size, widened under a filter, complete, re-scored) is the reader's
decision (`SearchIndex.search`).
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

import numpy as np

from xmodal.alignment.core.errors import BadInput, XmodalError
from xmodal.alignment.core.items import Hit, Row, hit_from_row
from xmodal.alignment.core.protocols import Embedder, SearchIndex, Where
from xmodal.indexer.vector_import import VECTORS_SPEC

from .dedup import keep_mask
from .options import SearchOptions
from .query import Query, as_query_vector
from .sources import IndexSource, Opener, check_same_encoder, default_opener, source_names

if TYPE_CHECKING:
    from xmodal.alignment.backends.options import RunOptions

Encoded = tuple[np.ndarray, set[tuple[int, int]]]  # (1, dim) vector, (source, label)s to leave out
Stages = dict[str, float]


@dataclass
class _Cand:
    """One candidate result before metadata is joined."""

    source: int
    label: int
    score: float


class Engine:
    """Searches one or more indexes built by the same encoder."""

    def __init__(self, sources: list[IndexSource], encoder: Embedder | None = None):
        if not sources:
            raise XmodalError("no index to search: give at least one index directory")
        check_same_encoder(sources)
        self.sources = sources
        self.encoder = encoder
        for src in sources:
            if encoder is not None:
                src.index.check_encoder(encoder)
                src.set_reopen_check(encoder_check(encoder))

    @classmethod
    def open(cls, paths: str | Sequence[str], encoder: Embedder | None = None,
             opener: Opener = default_opener, run: RunOptions | None = None) -> "Engine":
        """Open index directories via their manifests and load the encoder
        they name once (or use `encoder`, which must match them). `run`
        (`RunOptions`) picks its backend/device: any backend queries any
        index of the same weights."""
        paths = [str(paths)] if isinstance(paths, (str, bytes)) or hasattr(paths, "__fspath__") else [str(p) for p in paths]
        names = source_names(paths)
        sources = [IndexSource(p, n, opener) for p, n in zip(paths, names)]
        check_same_encoder(sources)
        if encoder is None and sources[0].manifest.encoder_spec != VECTORS_SPEC:
            from xmodal.alignment import load_encoder

            encoder = load_encoder(sources[0].manifest.encoder_spec, *_run_names(run))
        return cls(sources, encoder)

    @property
    def dim(self) -> int:
        return int(self.sources[0].manifest.dim)

    def refresh(self) -> None:
        """Pick up newer manifest generations (cheap when nothing changed)."""
        for src in self.sources:
            src.refresh()

    def source(self, name: str) -> IndexSource:
        for src in self.sources:
            if src.name == name:
                return src
        raise BadInput(f"index {name!r}", "is not served here", f"known: {', '.join(s.name for s in self.sources)}")

    # ---- encoding -------------------------------------------------------
    def encode(self, query: Query) -> Encoded:
        """Query -> (1, dim) vector, plus (source, label) pairs to leave out
        of the results (the item itself for a more-like-this query)."""
        return self.encode_batch([query])[0]

    def encode_batch(self, queries: Sequence[Query]) -> list[Encoded]:
        """`encode` for many queries; media/text queries of one modality go
        through the encoder as one batch."""
        out: list[Encoded | None] = [None] * len(queries)
        groups: dict[str, list[int]] = {}
        for i, query in enumerate(queries):
            if not isinstance(query, Query):
                raise BadInput("query", f"expected a Query, got {type(query).__name__}")
            if query.kind == "embedding":
                out[i] = (as_query_vector(query.embedding, self.dim), set())
            elif query.kind == "id":
                out[i] = self._vector_of(str(query.id))
            else:
                groups.setdefault(query.kind, []).append(i)
        if groups:
            self._embed_groups(queries, groups, out)
        return out  # type: ignore[return-value]  # every position was filled or raised

    def _embed_groups(self, queries: Sequence[Query], groups: dict[str, list[int]],
                      out: list[Encoded | None]) -> None:
        """Encode the text/media queries, one encoder batch per modality."""
        if self.encoder is None:
            raise XmodalError("this engine has no encoder: query by embedding or id")
        for kind, positions in groups.items():
            items = [getattr(queries[i], kind) for i in positions]
            names = [queries[i].describe() for i in positions]
            res = self.encoder.embed(kind, items, batch_size=len(items), workers=1, names=names)
            if res.errors:
                raise BadInput(f"query {kind}", res.errors[0].reason)
            vectors = np.asarray(res.vectors, np.float32)
            for pos, vec in zip(res.ok, vectors):
                out[positions[pos]] = (vec.reshape(1, -1), set())

    def _vector_of(self, item_id: str) -> Encoded:
        for si, src in enumerate(self.sources):
            label = src.index.label_of(item_id)
            if label is not None:
                vec = np.asarray(src.index.vectors(np.array([label], np.int64)), np.float32)
                return vec.reshape(1, -1), {(si, int(label))}
        raise BadInput(f"id {item_id!r}", "is not in the index", "use an id from a search result")

    # ---- searching ------------------------------------------------------
    def search(self, query: Query, k: int = 10, target: str | None = None, where: Where | None = None,
               dedup: float | None = None, rescore: bool = False,
               stages: Stages | None = None) -> list[Hit]:
        """Top-k hits for one query, best first (the options are those of
        `SearchOptions`). `stages` (optional) accumulates seconds spent in
        encode / search / metadata."""
        options = SearchOptions(k=k, target=target, where=where, dedup=dedup, rescore=rescore)
        return self.search_batch([query], options, stages)[0]

    def search_batch(self, queries: Sequence[Query], options: SearchOptions = SearchOptions(),
                     stages: Stages | None = None) -> list[list[Hit]]:
        """`search` for several queries with the same options; their
        texts/media are encoded in one batch per modality."""
        stages = stages if stages is not None else {}
        self.refresh()
        with _timed(stages, "encode"):
            encoded = self.encode_batch(queries)
        return [self._search_vector(vec, excl, options, stages) for vec, excl in encoded]

    def search_vector(self, vector: np.ndarray, options: SearchOptions = SearchOptions(),
                      exclude: set[tuple[int, int]] | None = None,
                      stages: Stages | None = None) -> list[Hit]:
        """`search` with a query already encoded by `encode` / `encode_batch`
        (the server encodes concurrent queries as one batch, then searches
        each); `exclude` is the set `encode` returned with the vector."""
        vec = np.asarray(vector, np.float32).reshape(1, -1)
        if vec.shape[1] != self.dim:
            raise BadInput("query vector", f"has dim {vec.shape[1]}, the index has dim {self.dim}")
        self.refresh()
        return self._search_vector(vec, set(exclude or ()), options, stages if stages is not None else {})

    def _search_vector(self, q: np.ndarray, exclude: set[tuple[int, int]], opts: SearchOptions,
                       stages: Stages) -> list[Hit]:
        with _timed(stages, "search"):
            allowed = [src.allowed(opts) for src in self.sources]
            avail = [len(a) if a is not None else src.total() for a, src in zip(allowed, self.sources)]
        want = opts.k + len(exclude)
        # Dedup and rescoring need headroom; widen until k survive or the
        # filtered set is exhausted, so results are never silently short.
        fetch = want * (4 if (opts.dedup or opts.rescore) else 1)
        while True:
            with _timed(stages, "search"):
                cands = self._candidates(q, fetch, allowed, avail, opts.rescore)
                cands = [c for c in cands if (c.source, c.label) not in exclude]
            with _timed(stages, "metadata"):
                hits, vecs = self._join(cands, need_vectors=opts.dedup is not None)
            if opts.dedup is not None and hits:
                mask = keep_mask(vecs, opts.dedup)
                hits = [h for h, keep in zip(hits, mask) if keep]
            exhausted = all(fetch >= n for n in avail)
            if len(hits) >= opts.k or exhausted:
                return hits[: opts.k]
            fetch = min(fetch * 4, max(avail))

    def _candidates(self, q: np.ndarray, fetch: int, allowed: list[np.ndarray | None],
                    avail: list[int], rescore: bool) -> list[_Cand]:
        cands: list[_Cand] = []
        for si, src in enumerate(self.sources):
            if avail[si] == 0:
                continue
            scores, labels = src.index.search(q, min(fetch, avail[si]), labels=allowed[si], rescore=rescore)
            ok = labels[0] >= 0
            cands.extend(_Cand(si, int(l), float(s)) for s, l in zip(scores[0][ok], labels[0][ok]))
        cands.sort(key=lambda c: (-c.score, c.source, c.label))
        return cands

    def _join(self, cands: list[_Cand], need_vectors: bool) -> tuple[list[Hit], np.ndarray]:
        """Metadata (and optionally stored vectors) for candidates, in order."""
        rows: dict[tuple[int, int], Row] = {}
        vectors: dict[tuple[int, int], np.ndarray] = {}
        for si, src in enumerate(self.sources):
            labels = np.array([c.label for c in cands if c.source == si], np.int64)
            if not len(labels):
                continue
            for row in src.index.rows(labels):
                rows[(si, int(row.label))] = row
            if need_vectors:
                for label, vec in zip(labels, np.asarray(src.index.vectors(labels), np.float32)):
                    vectors[(si, int(label))] = vec
        hits = [hit_from_row(rows[(c.source, c.label)], c.score, self.sources[c.source].name) for c in cands]
        vecs = [vectors[(c.source, c.label)] for c in cands] if need_vectors else []
        return hits, (np.stack(vecs) if vecs else np.zeros((0, self.dim), np.float32))

    # ---- lookups --------------------------------------------------------
    def item(self, item_id: str, index: str | None = None) -> tuple[Hit, IndexSource]:
        """Metadata of one indexed item (score 1.0: its similarity to
        itself) and the index holding it; BadInput when unknown."""
        self.refresh()
        sources = [self.source(index)] if index else self.sources
        for src in sources:
            label = src.index.label_of(item_id)
            if label is None:
                continue
            row = src.index.rows(np.array([label], np.int64))[0]
            return hit_from_row(row, 1.0, src.name), src
        raise BadInput(f"id {item_id!r}", "is not in the index")


def encoder_check(encoder: Embedder) -> Callable[[SearchIndex], None]:
    """The check a reopened index must pass: built by `encoder`."""
    return lambda index: index.check_encoder(encoder)


@contextmanager
def _timed(stages: Stages, stage: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        stages[stage] = stages.get(stage, 0.0) + time.perf_counter() - start


def _run_names(run: RunOptions | None) -> tuple[str | None, str | None, str | None]:
    """(backend, device, precision) of a RunOptions, or defaults."""
    return (None, None, None) if run is None else (run.backend, run.device, run.precision)
