"""Progress of the embedding stage: records, with a total and an ETA,
advancing after every encoder batch (not once per shard).

The total comes from a second, cheap read of the corpus (listing, no
decoding) in a background thread, so embedding starts at once and the bar
gains its total and ETA as soon as the count is known. Within a shard the
bar advances by the shard's records times the share of its vectors done.
"""
from __future__ import annotations

import sys
import threading
from typing import Callable, Sequence

from tqdm import tqdm


class EmbedProgress:
    """A tqdm bar in records fed by per-batch fractions of each shard."""

    def __init__(self, progress: bool, count: Callable[[], int] | None = None):
        self.bar = tqdm(unit="item", desc="embedding", file=sys.stderr, disable=not progress,
                        dynamic_ncols=True)
        self._base = 0  # records of finished shards
        self._partial = 0.0  # records' worth of the current shard's vectors
        if progress and count is not None:
            threading.Thread(target=self._count, args=(count,), daemon=True, name="xmodal-count").start()

    def _count(self, count: Callable[[], int]) -> None:
        try:
            total = count()
        except Exception:  # a count is a nicety: the build reports real errors itself
            return
        self.bar.total = total  # shown from the next update on

    def batch(self, shard_records: int, fraction: float) -> None:
        """`fraction` of the current shard's vectors were just computed."""
        self._partial += shard_records * fraction
        self._show()

    def shard(self, n_records: int) -> None:
        """A shard of `n_records` is finished (embedded now or reused)."""
        self._base += n_records
        self._partial = 0.0
        self._show()

    def skipped(self, n: int) -> None:
        self.bar.set_postfix(skipped=n, refresh=False)

    def _show(self) -> None:
        step = int(self._base + self._partial) - self.bar.n
        if step > 0:
            self.bar.update(step)

    def close(self) -> None:
        self.bar.close()


def count_records(corpus: Sequence[str], roots: Sequence[str] = (), allow_roots: Sequence[str] = (),
                  max_text_bytes: int | None = None) -> int:
    """How many records the corpus readers yield (read errors not counted),
    under the same confinement as the real read (`roots`, `--allow-root`,
    the text cap), so the total matches what will be embedded."""
    from .readers import Record, read_corpus
    from .readers.confine import MAX_TEXT_BYTES

    entries = read_corpus(list(corpus), list(roots), list(allow_roots),
                          MAX_TEXT_BYTES if max_text_bytes is None else max_text_bytes)
    return sum(1 for e in entries if isinstance(e, Record))
