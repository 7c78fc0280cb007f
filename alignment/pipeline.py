"""Batched encoding that overlaps decoding with the forward pass.

Decoding (`Encoder.prepare`) runs in a thread pool one batch ahead of the
model, so while batch i is encoded, batch i+1 is being decoded. PIL, libsndfile
and the resamplers release the GIL for their heavy parts, so threads are
enough to keep the encoder the bottleneck without pickling models into
worker processes.
"""
from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from .core.contracts import EncodeResult, Encoder, ItemError
from .core.errors import BadInput


def item_name(item: Any) -> str:
    """A short printable name for an item in error lines."""
    if isinstance(item, str):
        return item if len(item) <= 80 else item[:77] + "..."
    name = getattr(item, "name", None) or getattr(item, "filename", None)
    return str(name) if name else type(item).__name__


def _prepare_one(encoder: Encoder, item: Any) -> tuple[Any, str | None]:
    try:
        return encoder.prepare(item), None
    except BadInput as exc:
        return None, exc.reason + (f" ({exc.hint})" if exc.hint else "")
    except Exception as exc:  # a decoder bug must not lose the batch
        return None, f"{type(exc).__name__}: {exc}"


def run_batches(
    encoder: Encoder,
    items: Sequence[Any],
    batch_size: int = 32,
    workers: int = 2,
    on_batch: Callable[[int], None] | None = None,
    names: Sequence[str] | None = None,
) -> EncodeResult:
    """Encode `items` in batches; bad items are skipped and reported."""
    starts = list(range(0, len(items), batch_size))
    vectors: list[np.ndarray] = []
    ok: list[int] = []
    errors: list[ItemError] = []

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:

        def submit(start: int) -> list[Future]:
            chunk = items[start : start + batch_size]
            return [pool.submit(_prepare_one, encoder, it) for it in chunk]

        pending = submit(starts[0]) if starts else []
        for n, start in enumerate(starts):
            current = pending
            pending = submit(starts[n + 1]) if n + 1 < len(starts) else []
            prepared, positions = [], []
            for offset, fut in enumerate(current):
                value, err = fut.result()
                pos = start + offset
                if err is None:
                    prepared.append(value)
                    positions.append(pos)
                else:
                    label = names[pos] if names else item_name(items[pos])
                    errors.append(ItemError(pos, label, err))
            if prepared:
                vectors.append(encoder.encode(prepared))
                ok.extend(positions)
            if on_batch:
                on_batch(len(current))

    dim = encoder.dim
    out = np.concatenate(vectors) if vectors else np.zeros((0, dim), np.float32)
    return EncodeResult(out.astype(np.float32, copy=False), ok, errors)


def chunked(it: Iterable[Any], size: int) -> Iterable[list[Any]]:
    """Yield lists of up to `size` items."""
    buf: list[Any] = []
    for x in it:
        buf.append(x)
        if len(buf) == size:
            yield buf
            buf = []
    if buf:
        yield buf
