"""CPU thread count for every numeric runtime, without importing them here.

The kernel cannot import torch's or FAISS's owners (FAISS belongs to the
indexer, and nothing in `alignment` may import it), so each runtime's owner
registers a setter. The requested count is remembered: a setter registered
after `set_threads` (a subcommand's package imported later) is applied at
once, so the order of imports never decides the thread count."""
from __future__ import annotations

from typing import Callable

_setters: dict[str, Callable[[int], None]] = {}
_requested: int | None = None


def register_thread_setter(name: str, setter: Callable[[int], None]) -> None:
    """Let `set_threads` reach runtime `name` (e.g. "torch", "faiss").

    `setter(n)` may import its runtime lazily; registering again under the
    same name replaces it. If a count was already requested it is applied now."""
    _setters[name] = setter
    if _requested is not None:
        setter(_requested)


def set_threads(n: int) -> None:
    """Use `n` CPU threads in every registered runtime, now and later."""
    global _requested
    _requested = n
    for setter in list(_setters.values()):
        setter(n)


def requested_threads() -> int | None:
    """The count last passed to `set_threads` (None: library defaults)."""
    return _requested
