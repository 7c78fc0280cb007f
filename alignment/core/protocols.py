"""The typed seams between the layers: what `indexer` and `search` use of
an encoder stack (`Embedder`) and of an opened index (`SearchIndex`, with
its `IndexIdentity`).

They are structural (`typing.Protocol`): the real classes
(`alignment.stack.EncoderStack`, `indexer.reader.IndexReader`) and the test
fakes satisfy them without inheriting, and one behavioural suite
(`tests/search/test_contracts.py`) runs against both, so a fake cannot
drift from the class it stands in for. Every signature that crosses a
layer names these types, never `Any`.

Growth without breaking the seams (see ARCHITECTURE.md): options travel
as one object (`search.options.SearchOptions`), rows and hits are the
dataclasses of `core.items`, so new fields land there; a sharded or
on-disk index implements `SearchIndex` as it stands.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Protocol, Sequence, Union, runtime_checkable

import numpy as np

from .contracts import EncodeResult

from .items import Row

Scalar = Union[str, int, float, bool, None]
# A metadata filter: field (dotted for nested objects) -> value (equality),
# a list of values (any of them) or an operator object ({">=": 512},
# {"not": "gpl"}, {"exists": true}); its meaning is `core/where.py`'s.
Where = Mapping[str, Union[Scalar, Sequence[Scalar], Mapping[str, Any]]]
Labels = Union[Sequence[int], np.ndarray]


@runtime_checkable
class Embedder(Protocol):
    """An encoder stack as the indexer and the query engine use it.

    `fingerprint` names the weights (an index records it; queries by other
    weights are refused); `aligned` is False while the projection heads are
    untrained (cross-modal scores are then noise)."""

    spec: str
    fingerprint: str
    aligned: bool

    @property
    def dim(self) -> int: ...

    @property
    def modalities(self) -> list[str]: ...

    def embed(self, modality: str, items: Sequence[Any], batch_size: int = 32, workers: int = 2,
              names: Sequence[str] | None = None,
              on_batch: Callable[[int], None] | None = None) -> EncodeResult:
        """Encode what can be encoded: float32 (m, dim) L2-normalised rows,
        `ok[i]` the input position of row i, bad items in `errors`;
        `on_batch(n)` runs after each batch of n items (progress).
        A modality the stack has no encoder for raises `BadInput`."""
        ...


@runtime_checkable
class IndexIdentity(Protocol):
    """The manifest fields a searcher reads: which encoder built the index,
    its space, its structure and generation, and live counts."""

    encoder_spec: str
    encoder_fingerprint: str
    dim: int
    metric: str
    factory: str
    generation: int
    counts: dict[str, int]
    search_params: dict[str, Any]


@runtime_checkable
class SearchIndex(Protocol):
    """One generation of an index, read-only: the reader protocol.

    Labels are int64 row ids, stable across generations. Every method
    answers for the pinned `generation` (deleted rows never come back)."""

    generation: int

    @property
    def manifest(self) -> IndexIdentity: ...

    def search(self, q: np.ndarray, k: int, labels: Labels | None = None,
               rescore: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Top-k by similarity (inner product of normalised vectors) ->
        (scores (n, k) float32, labels (n, k) int64), best first, padded
        with (-inf, -1). `labels` restricts results to that allowed set.
        Complete: each row holds min(k, live rows allowed) results, however
        selective the restriction. `rescore`: scores are exact inner products
        of the stored vectors (approximate ones are re-scored, once)."""
        ...

    def rows(self, labels: Labels) -> list[Row]:
        """Rows for these labels, in order; an unknown label raises XmodalError."""
        ...

    def labels_where(self, modality: str | None = None, kind: str | None = None,
                     where: Where | None = None) -> np.ndarray:
        """Live labels matching modality / kind ('item' | 'caption') /
        metadata filters, sorted ascending; a field name outside letters,
        digits and `_-. ` raises XmodalError."""
        ...

    def label_of(self, id: str) -> int | None:
        """The label of the live row with this id, or None."""
        ...

    def vectors(self, labels: Labels) -> np.ndarray:
        """Stored vectors, float32 (n, dim), in order; unknown labels raise XmodalError."""
        ...

    def media_roots(self) -> list[str]:
        """Folders (and tar/manifest files) the rows' media uris may point
        into: where a media server may read from, and nowhere else."""
        ...

    def is_stale(self) -> bool:
        """True once a newer generation has been published (reopen to see it)."""
        ...

    def check_encoder(self, stack: Embedder) -> None:
        """Raise XmodalError unless `stack` is the encoder that built the index."""
        ...

    def close(self) -> None: ...
