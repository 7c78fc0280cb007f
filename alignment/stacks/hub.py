"""Hub loading helpers for the pretrained stacks (openclip, hfclip, clap).

Hub downloads are the real loading path. Without a network the hub client
would retry for ~30 s and log several screens of warnings; instead we probe
the hub once (2 s) and, when it is unreachable, switch huggingface_hub to
offline mode for the load: cached models still load, anything else fails
at once and becomes one `MissingWeights` line naming what works offline.
"""
from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from typing import Iterator
from urllib.parse import urlparse

from ..core.errors import MissingWeights

_reachable: bool | None = None
_lock = threading.Lock()


def hub_reachable(timeout: float = 2.0) -> bool:
    """Whether the HF hub endpoint accepts a TCP connection (cached)."""
    global _reachable
    with _lock:
        if _reachable is None:
            url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
            port = url.port or (443 if url.scheme == "https" else 80)
            try:
                socket.create_connection((url.hostname or "huggingface.co", port), timeout=timeout).close()
                _reachable = True
            except OSError:
                _reachable = False
        return _reachable


@contextlib.contextmanager
def hub_session(quiet: bool = True) -> Iterator[bool]:
    """Offline mode when the hub is unreachable; yields whether it is
    online. `quiet` mutes library logging (open_clip logs errors on the root
    logger before raising, which would duplicate our one error line)."""
    import huggingface_hub.constants as hf_constants

    forced = False
    online = not hf_constants.HF_HUB_OFFLINE and hub_reachable()
    if not online and not hf_constants.HF_HUB_OFFLINE:
        hf_constants.HF_HUB_OFFLINE = True
        forced = True
    if quiet:
        logging.disable(logging.ERROR)
    try:
        yield online
    finally:
        if quiet:
            logging.disable(logging.NOTSET)
        if forced:
            hf_constants.HF_HUB_OFFLINE = False


def missing(family: str, target: str, exc: BaseException | str, local_hint: str, online: bool) -> MissingWeights:
    """One line: what failed, why (shortened), and what works offline."""
    why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if len(why) > 160:
        why = why[:157].rstrip(". ") + "..."
    why = why.rstrip(".")
    where = "" if online else " (no network: the hub is unreachable)"
    return MissingWeights(
        f"{family}: cannot load '{target}'{where}: {why}. "
        f"Offline use 'lite', 'tiny', or {family}:{local_hint}"
    )


def local_or_hub(family: str, argument: str | None, usage: str) -> tuple[str, bool]:
    """A hub id or an existing local dir; a missing path-looking target is
    reported now instead of being sent to the hub as an id."""
    from ..core.errors import UnknownModel

    if not argument:
        raise UnknownModel(f"{family} needs a model: {usage}")
    path = os.path.expanduser(argument)
    if os.path.isdir(path):
        return path, True
    if argument.startswith((".", "/", "~")) or os.path.exists(path):
        raise MissingWeights(f"{family}: {argument} is not a model directory ({usage})")
    return argument, False


def weights_digest(target: str, local: bool, model) -> str:
    """Fingerprint part for transformers weights: file hashes for a local
    dir, else hub id + resolved commit."""
    from pathlib import Path

    from ..core.fingerprint import file_sha256

    if local:
        files = sorted(p for p in Path(target).iterdir()
                       if p.suffix in (".safetensors", ".bin") or p.name == "config.json")
        return "|".join(f"{p.name}:{file_sha256(p)}" for p in files)
    commit = getattr(model.config, "_commit_hash", None) or "unknown-revision"
    return f"hub:{target}@{commit}"
