"""Resident memory of the benchmark process: a sampled peak over a block
of code, and the process-wide high-water mark.

The sampler reads /proc/self/statm from a thread, so it sees torch and
FAISS buffers that tracemalloc cannot."""
from __future__ import annotations

import resource
import threading
from contextlib import contextmanager
from typing import Iterator

PAGE = resource.getpagesize()


def rss_bytes() -> int:
    """Resident set size now (the high-water mark where /proc is missing)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * PAGE
    except OSError:  # not Linux
        return maxrss_bytes()


def maxrss_bytes() -> int:
    """Process peak RSS so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@contextmanager
def peak_rss(interval: float = 0.02) -> Iterator[dict[str, int]]:
    """Yields a dict with 'start_rss_bytes'; 'peak_rss_bytes' (the highest
    RSS sampled while the block ran) is filled in when the block ends."""
    box = {"start_rss_bytes": rss_bytes(), "peak_rss_bytes": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            box["peak_rss_bytes"] = max(box["peak_rss_bytes"], rss_bytes())
            stop.wait(interval)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        yield box
    finally:
        stop.set()
        t.join()
        box["peak_rss_bytes"] = max(box["peak_rss_bytes"], rss_bytes())
