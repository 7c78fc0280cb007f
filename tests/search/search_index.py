"""Build real (FAISS + SQLite) xmodal indexes for search tests.

`build_from_vectors` goes through the indexer's shard + publish path with
vectors we choose, so results can be checked against brute force;
`build_tiny_corpus` embeds synthetic images, sounds and texts with the
`tiny` encoder stack."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from xmodal.alignment.core.contracts import l2_normalise
from xmodal.alignment.core.items import ShardRow
from xmodal.indexer.indexing import Encoded, IndexOptions, index_shards
from xmodal.indexer.publish import Writer
from xmodal.indexer.shards import Shard, records_hash, write_shard


def build_from_vectors(out: str | Path, rows: Sequence[ShardRow], vectors: np.ndarray,
                       spec: str = "fake", fingerprint: str = "fp-1", factory: str | None = "Flat",
                       shard: str = "g0001-0000") -> Path:
    """A new index (or a new generation of `out`) holding exactly `rows`."""
    vectors = l2_normalise(np.asarray(vectors, np.float32))
    out = Path(out)
    with Writer(out, create=True) as writer:
        write_shard(out, Shard(shard, vectors, list(rows), [], records_hash([r.id for r in rows]), fingerprint),
                    dtype="float32")
        index_shards(writer, [shard], Encoded(spec, fingerprint, vectors.shape[1]),
                                IndexOptions(factory=factory, tune_queries=50), vector_dtype="float32")
    return out


def shard_rows(fake_rows: Sequence[Any]) -> list[ShardRow]:
    """Rows -> ShardRows (same fields minus the label)."""
    return [ShardRow(r.id, r.modality, r.kind, r.parent_id, r.uri, r.text, dict(r.metadata))
            for r in fake_rows]
