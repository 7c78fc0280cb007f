"""Batched encoding that keeps the encoder busy.

How an encoder's `prepare` runs is its `decode_in` attribute:
- "processes" (images: decode + resize + crop; audio: decode + resample +
  log-mel): forked worker processes, so decoding never competes with the
  forward pass for the GIL. Workers inherit the encoder's preprocessing
  through fork (nothing big is pickled) and are kept per encoder for the
  life of the process, so a build's many shards pay their start-up once.
- "inline" (text: a strip and a template): in the calling thread. An
  encoder with `length_sorted` (text) gets its items in order of length,
  so every batch pads to nearly its own length; rows go back in input order.
- "threads" (the default, e.g. plugin encoders): a thread pool, as before.
Work flows through a bounded window (`AHEAD` batches in flight), so memory
stays flat whatever the corpus size, and batches reach the encoder in input
order. A job of one batch or less (a query) decodes in the calling thread.
A worker that dies (a decoder crash) is replaced; the items of its chunk
are retried one per task, and an item that kills a worker again is skipped
and reported like any other bad item.
"""
from __future__ import annotations

import atexit
import multiprocessing as mp
import threading
from collections import deque
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from .core.contracts import EncodeResult, Encoder, ItemError
from .core.errors import BadInput

AHEAD = 2  # batches decoded ahead of the encoder
Prepared = tuple[Any, str | None]  # (value, None) or (None, reason)

_worker_encoder: Any = None  # the encoder whose `prepare` a decode worker runs
_pools: dict[tuple[int, int], tuple[Any, Executor]] = {}
_pools_lock = threading.Lock()


def item_name(item: Any) -> str:
    """A short printable name for an item in error lines."""
    if isinstance(item, str):
        return item if len(item) <= 80 else item[:77] + "..."
    name = getattr(item, "name", None) or getattr(item, "filename", None)
    return str(name) if name else type(item).__name__


def _prepare_one(encoder: Encoder, item: Any) -> Prepared:
    try:
        return encoder.prepare(item), None
    except BadInput as exc:
        return None, exc.reason + (f" ({exc.hint})" if exc.hint else "")
    except Exception as exc:  # a decoder bug must not lose the batch
        return None, f"{type(exc).__name__}: {exc}"


def _init_worker(encoder: Any) -> None:
    """In a forked decode worker: torch ops on one thread (the parent's
    encoder owns the cores' parallelism)."""
    global _worker_encoder
    _worker_encoder = encoder
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


def _prepare_chunk(items: list[Any]) -> list[Prepared]:
    return [_prepare_one(_worker_encoder, it) for it in items]


def decode_mode(encoder: Encoder) -> str:
    """'processes', 'threads' or 'inline' (see the module docstring)."""
    mode = getattr(encoder, "decode_in", "threads")
    if mode == "processes" and "fork" not in mp.get_all_start_methods():
        return "threads"  # spawn would pickle the whole encoder into every worker
    return mode


def decode_pool(encoder: Encoder, workers: int, fresh: bool = False) -> Executor:
    """This encoder's decode processes (created once, then reused)."""
    key = (id(encoder), workers)
    with _pools_lock:
        held = _pools.get(key)
        if held is not None and held[0] is encoder and not fresh:
            return held[1]
        if held is not None:
            held[1].shutdown(wait=False, cancel_futures=True)
        pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("fork"),
                                   initializer=_init_worker, initargs=(encoder,))
        _pools[key] = (encoder, pool)
        return pool


@atexit.register
def close_pools() -> None:
    """Stop every decode worker (also run at interpreter exit)."""
    with _pools_lock:
        for _, pool in _pools.values():
            pool.shutdown(wait=False, cancel_futures=True)
        _pools.clear()


class _Decoder:
    """Submits chunks of items to the right executor and collects them."""

    def __init__(self, encoder: Encoder, items: Sequence[Any], workers: int):
        self.encoder, self.items, self.workers = encoder, items, max(1, workers)
        self.mode = decode_mode(encoder)
        self._threads = ThreadPoolExecutor(self.workers) if self.mode == "threads" else None

    def submit(self, a: int, b: int) -> list[tuple[int, int, Future]]:
        if self.mode == "threads":
            return [(i, i + 1, self._threads.submit(_prepare_one, self.encoder, self.items[i]))
                    for i in range(a, b)]
        step = max(1, -(-(b - a) // self.workers))  # one chunk per worker per batch
        return [(s, min(s + step, b), self._submit_chunk(list(self.items[s : min(s + step, b)])))
                for s in range(a, b, step)]

    def _submit_chunk(self, chunk: list[Any]) -> Future:
        try:
            return decode_pool(self.encoder, self.workers).submit(_prepare_chunk, chunk)
        except BrokenProcessPool:  # a worker died earlier: start over with a fresh pool
            return decode_pool(self.encoder, self.workers, fresh=True).submit(_prepare_chunk, chunk)

    def collect(self, chunk: tuple[int, int, Future]) -> list[Prepared]:
        a, b, fut = chunk
        try:
            value = fut.result()
        except BrokenProcessPool:
            return self._retry(a, b)
        return value if isinstance(value, list) else [value]

    def _retry(self, a: int, b: int) -> list[Prepared]:
        """After a worker died: each item of the chunk alone, so only the
        item that kills a worker is lost."""
        out: list[Prepared] = []
        for i in range(a, b):
            try:
                out += self._submit_chunk([self.items[i]]).result()
            except BrokenProcessPool:
                out.append((None, "the decoder crashed on this item (its worker process died)"))
        return out

    def close(self) -> None:
        if self._threads is not None:
            self._threads.shutdown(wait=True, cancel_futures=True)


def _prepared_batches(encoder: Encoder, items: Sequence[Any], batch_size: int,
                      workers: int) -> Iterator[tuple[int, list[Prepared]]]:
    """(start, [(value, err) per item]) per batch, in input order."""
    if len(items) <= batch_size or decode_mode(encoder) == "inline" or workers < 1:
        for s in range(0, len(items), batch_size):
            yield s, [_prepare_one(encoder, it) for it in items[s : s + batch_size]]
        return
    decoder = _Decoder(encoder, items, workers)
    window: deque[tuple[int, list]] = deque()
    try:
        for s in range(0, len(items), batch_size):
            window.append((s, decoder.submit(s, min(s + batch_size, len(items)))))
            if len(window) > AHEAD:
                start, chunks = window.popleft()
                yield start, [r for c in chunks for r in decoder.collect(c)]
        while window:
            start, chunks = window.popleft()
            yield start, [r for c in chunks for r in decoder.collect(c)]
    finally:
        for _, chunks in window:  # abandoned (an error or Ctrl-C upstream)
            for _, _, fut in chunks:
                fut.cancel()
        decoder.close()


def run_batches(
    encoder: Encoder,
    items: Sequence[Any],
    batch_size: int = 32,
    workers: int = 2,
    on_batch: Callable[[int], None] | None = None,
    names: Sequence[str] | None = None,
) -> EncodeResult:
    """Encode `items` in batches; bad items are skipped and reported.
    `on_batch(n)` runs after each batch of n input items."""
    vectors: list[np.ndarray] = []
    ok: list[int] = []
    errors: list[ItemError] = []
    for positions, results in _batches(encoder, items, batch_size, workers):
        prepared, kept = [], []
        for pos, (value, err) in zip(positions, results):
            if err is None:
                prepared.append(value)
                kept.append(pos)
            else:
                label = names[pos] if names else item_name(items[pos])
                errors.append(ItemError(pos, label, err))
        if prepared:
            vectors.append(encoder.encode(prepared))
            ok.extend(kept)
        if on_batch:
            on_batch(len(results))
    out = np.concatenate(vectors) if vectors else np.zeros((0, encoder.dim), np.float32)
    if ok != sorted(ok):  # length-sorted batches: rows back in input order
        order = np.argsort(np.asarray(ok), kind="stable")
        out, ok = out[order], [ok[i] for i in order]
        errors.sort(key=lambda e: e.index)
    return EncodeResult(out.astype(np.float32, copy=False), ok, errors)


def _batches(encoder: Encoder, items: Sequence[Any], batch_size: int,
             workers: int) -> Iterator[tuple[list[int], list[Prepared]]]:
    """(input positions, [(value, err)]) per batch."""
    if getattr(encoder, "length_sorted", False) and decode_mode(encoder) == "inline" and len(items) > batch_size:
        done = [_prepare_one(encoder, it) for it in items]
        order = sorted(range(len(items)), key=lambda i: len(done[i][0]) if done[i][1] is None else -1)
        for s in range(0, len(order), batch_size):
            part = order[s : s + batch_size]
            yield part, [done[i] for i in part]
        return
    for start, results in _prepared_batches(encoder, items, batch_size, workers):
        yield list(range(start, start + len(results))), results


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
