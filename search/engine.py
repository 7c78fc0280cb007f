"""`Engine`: encode a query, search one or more indexes, join metadata,
return `Hit`s.

Python use::

    from xmodal.search import Engine, Query
    engine = Engine.open("my.xmodal")
    hits = engine.search(Query(text="a dog on the beach"), k=10, target="image")
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np

from xmodal.alignment.core.errors import BadInput, XmodalError
from xmodal.alignment.core.items import Hit, hit_from_row

from .dedup import check_threshold, keep_mask
from .filters import check_where
from .query import Query, as_query_vector, check_target
from .sources import IndexSource, Opener, check_same_encoder, default_opener, source_names

MAX_K = 1000
_EXACT_CHUNK = 65536


@dataclass
class _Cand:
    """One candidate result before metadata is joined."""

    source: int
    label: int
    score: float
    # the stored vector, when rescoring already fetched it (dedup reuses it)
    vec: np.ndarray | None = None


def to_similarity(scores: np.ndarray, metric: str | None) -> np.ndarray:
    """FAISS scores -> cosine similarity. Vectors are L2-normalised, so a
    squared L2 distance d maps to 1 - d/2; inner products already are."""
    if str(metric or "ip").lower() in ("l2", "euclidean"):
        return 1.0 - scores / 2.0
    return scores


def check_k(k: Any) -> int:
    """k must be an int in [1, MAX_K]."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise BadInput("k", f"{k!r} is not an integer")
    if not 1 <= int(k) <= MAX_K:
        raise BadInput("k", f"{k} is outside 1..{MAX_K}")
    return int(k)


class Engine:
    """Searches one or more indexes built by the same encoder."""

    def __init__(self, sources: list[IndexSource], encoder: Any = None):
        if not sources:
            raise XmodalError("no index to search: give at least one index directory")
        check_same_encoder(sources)
        self.sources = sources
        self.encoder = encoder
        for src in sources:
            if encoder is not None:
                src.index.check_encoder(encoder)
                src.set_reopen_check(lambda ix: ix.check_encoder(self.encoder))

    @classmethod
    def open(cls, paths: str | Sequence[str], encoder: Any = None,
             opener: Opener = default_opener, run: Any = None) -> "Engine":
        """Open index directories via their manifests and load the encoder
        they name once (or use `encoder`, which must match them). `run`
        (`RunOptions`) picks its backend/device: any backend queries any
        index of the same weights."""
        paths = [str(paths)] if isinstance(paths, (str, bytes)) or hasattr(paths, "__fspath__") else [str(p) for p in paths]
        names = source_names(paths)
        sources = [IndexSource(p, n, opener) for p, n in zip(paths, names)]
        check_same_encoder(sources)
        if encoder is None:
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
    def encode(self, query: Query) -> tuple[np.ndarray, set[tuple[int, int]]]:
        """Query -> (1, dim) vector, plus (source, label) pairs to leave out
        of the results (the item itself for a more-like-this query)."""
        return self.encode_batch([query])[0]

    def encode_batch(self, queries: Sequence[Query]) -> list[tuple[np.ndarray, set[tuple[int, int]]]]:
        """`encode` for many queries; media/text queries of one modality go
        through the encoder as one batch."""
        out: list[Any] = [None] * len(queries)
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
        if groups and self.encoder is None:
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
        return out

    def _vector_of(self, item_id: str) -> tuple[np.ndarray, set[tuple[int, int]]]:
        for si, src in enumerate(self.sources):
            label = src.index.label_of(item_id)
            if label is not None:
                vec = np.asarray(src.index.vectors(np.array([label], np.int64)), np.float32)
                return vec.reshape(1, -1), {(si, int(label))}
        raise BadInput(f"id {item_id!r}", "is not in the index", "use an id from a search result")

    # ---- searching ------------------------------------------------------
    def search(self, query: Query, k: int = 10, target: str | None = None,
               where: dict[str, Any] | None = None, dedup: float | None = None,
               rescore: bool = False, stages: dict[str, float] | None = None) -> list[Hit]:
        """Top-k hits for one query, best first.

        `target` restricts the result modality (image|audio|text; captions
        count as text), `where` keeps rows whose metadata fields equal the
        given values, `dedup` collapses results at least that cosine-similar
        to a better one, `rescore` re-ranks ANN candidates by exact inner
        product with the stored vectors. `stages` (optional) accumulates
        seconds spent in encode / search / metadata."""
        return self.search_batch([query], k, target, where, dedup, rescore, stages)[0]

    def search_batch(self, queries: Sequence[Query], k: int = 10, target: str | None = None,
                     where: dict[str, Any] | None = None, dedup: float | None = None,
                     rescore: bool = False, stages: dict[str, float] | None = None) -> list[list[Hit]]:
        """`search` for several queries with the same options."""
        k, target = check_k(k), check_target(target)
        where, dedup = check_where(where), check_threshold(dedup)
        stages = stages if stages is not None else {}
        self.refresh()
        with _timed(stages, "encode"):
            encoded = self.encode_batch(queries)
        return [self._search_vector(vec, excl, k, target, where, dedup, rescore, stages)
                for vec, excl in encoded]

    def search_vector(self, vector: np.ndarray, k: int = 10, target: str | None = None,
                      where: dict[str, Any] | None = None, dedup: float | None = None,
                      rescore: bool = False, exclude: set[tuple[int, int]] | None = None,
                      stages: dict[str, float] | None = None) -> list[Hit]:
        """`search` with a query already encoded by `encode` / `encode_batch`
        (the server encodes concurrent queries as one batch, then searches
        each); `exclude` is the set `encode` returned with the vector."""
        k, target = check_k(k), check_target(target)
        where, dedup = check_where(where), check_threshold(dedup)
        vec = np.asarray(vector, np.float32).reshape(1, -1)
        if vec.shape[1] != self.dim:
            raise BadInput("query vector", f"has dim {vec.shape[1]}, the index has dim {self.dim}")
        self.refresh()
        return self._search_vector(vec, set(exclude or ()), k, target, where, dedup, rescore,
                                   stages if stages is not None else {})

    def _search_vector(self, q: np.ndarray, exclude: set[tuple[int, int]], k: int,
                       target: str | None, where: dict | None, dedup: float | None,
                       rescore: bool, stages: dict[str, float]) -> list[Hit]:
        with _timed(stages, "search"):
            allowed = [src.allowed(target, where) for src in self.sources]
            avail = [len(a) if a is not None else src.total() for a, src in zip(allowed, self.sources)]
        want = k + len(exclude)
        # Dedup and rescoring need headroom; widen until k survive or the
        # filtered set is exhausted, so results are never silently short.
        fetch = want * (4 if (dedup or rescore) else 1)
        while True:
            with _timed(stages, "search"):
                cands = self._candidates(q, fetch, allowed, avail, rescore)
                cands = [c for c in cands if (c.source, c.label) not in exclude]
            with _timed(stages, "metadata"):
                hits, vecs = self._join(cands, need_vectors=dedup is not None)
            if dedup is not None and hits:
                mask = keep_mask(vecs, dedup)
                hits = [h for h, keep in zip(hits, mask) if keep]
            exhausted = all(fetch >= n for n in avail)
            if len(hits) >= k or exhausted:
                return hits[:k]
            fetch = min(fetch * 4, max(avail))

    def _candidates(self, q: np.ndarray, fetch: int, allowed: list[np.ndarray | None],
                    avail: list[int], rescore: bool) -> list[_Cand]:
        cands: list[_Cand] = []
        for si, src in enumerate(self.sources):
            if avail[si] == 0:
                continue
            n = min(fetch, avail[si])
            scores, labels = src.index.search(q, n, labels=allowed[si])
            scores = to_similarity(np.asarray(scores[0], np.float32), src.manifest.metric)
            labels = np.asarray(labels[0], np.int64)
            ok = labels >= 0
            scores, labels = scores[ok], labels[ok]
            vecs = None
            if len(labels) < n:
                # ANN under a selective filter (HNSW, IVF with few probes) can
                # come back short although n matching rows exist: fall back
                # to exact search over the allowed set.
                scores, labels = self._exact(src, q, n, allowed[si])
            elif rescore and len(labels):
                vecs = np.asarray(src.index.vectors(labels), np.float32)
                scores = vecs @ q[0]
            cands.extend(_Cand(si, int(l), float(s), None if vecs is None else vecs[i])
                         for i, (s, l) in enumerate(zip(scores, labels)))
        cands.sort(key=lambda c: (-c.score, c.source, c.label))
        return cands

    def _exact(self, src: IndexSource, q: np.ndarray, n: int,
               allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        labels_all = allowed if allowed is not None else np.asarray(src.index.labels_where(), np.int64)
        best_s, best_l = np.zeros(0, np.float32), np.zeros(0, np.int64)
        for start in range(0, len(labels_all), _EXACT_CHUNK):
            chunk = labels_all[start:start + _EXACT_CHUNK]
            s = np.asarray(src.index.vectors(chunk), np.float32) @ q[0]
            best_s, best_l = np.concatenate([best_s, s]), np.concatenate([best_l, chunk])
            if len(best_s) > n:
                top = np.argpartition(-best_s, n - 1)[:n]
                best_s, best_l = best_s[top], best_l[top]
        order = np.lexsort((best_l, -best_s))
        return best_s[order], best_l[order]

    def _join(self, cands: list[_Cand], need_vectors: bool) -> tuple[list[Hit], np.ndarray]:
        """Metadata (and optionally stored vectors) for candidates, in
        order; rows deleted since the search are dropped."""
        rows: dict[tuple[int, int], Any] = {}
        vectors: dict[tuple[int, int], np.ndarray] = {}
        for si, src in enumerate(self.sources):
            labels = np.array([c.label for c in cands if c.source == si], np.int64)
            if not len(labels):
                continue
            for row in src.index.rows(labels):
                if row is not None:
                    rows[(si, int(row.label))] = row
            if need_vectors:
                missing = np.array([c.label for c in cands if c.source == si and c.vec is None], np.int64)
                found = np.asarray(src.index.vectors(missing), np.float32) if len(missing) else []
                for label, vec in zip(missing, found):
                    vectors[(si, int(label))] = vec
        hits, vecs = [], []
        for c in cands:
            row = rows.get((c.source, c.label))
            if row is None:
                continue
            hits.append(hit_from_row(row, c.score, self.sources[c.source].name))
            if need_vectors:
                vecs.append(c.vec if c.vec is not None else vectors[(c.source, c.label)])
        dim = self.dim
        return hits, (np.stack(vecs) if vecs else np.zeros((0, dim), np.float32))

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
            rows = [r for r in src.index.rows(np.array([label], np.int64)) if r is not None]
            if rows:
                return hit_from_row(rows[0], 1.0, src.name), src
        raise BadInput(f"id {item_id!r}", "is not in the index")


@contextmanager
def _timed(stages: dict[str, float], stage: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        stages[stage] = stages.get(stage, 0.0) + time.perf_counter() - start


def _run_names(run: Any) -> tuple[Any, Any, Any]:
    """(backend, device, precision) of a RunOptions, or defaults."""
    return (None, None, None) if run is None else (run.backend, run.device, run.precision)
