"""Weight fingerprints: sha256 over weight-file hashes and in-memory
tensors (heads, prompts, random towers). File hashes are cached by
(path, size, mtime) under the xmodal cache dir so loading stays fast.

In the kernel because every layer keys something by it (stacks, alignment
checkpoints, backend exports, feature caches, index manifests); torch is
imported only when in-memory tensors are hashed."""
from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from .hashing import DigestMemo

if TYPE_CHECKING:
    import torch
    from torch import nn

_lock = threading.Lock()


def cache_dir() -> Path:
    """`$XMODAL_CACHE` or `~/.cache/xmodal`."""
    root = os.environ.get("XMODAL_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "xmodal")
    return Path(root)


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file, cached by (absolute path, size, mtime_ns). The memo
    is re-read per call so hashes other processes added are picked up."""
    with _lock:
        memo = DigestMemo(cache_dir() / "file-hashes.json")
        digest = memo.digest(path)
        memo.save()
    return digest


def tensors_sha256(module_or_tensors: nn.Module | dict[str, torch.Tensor] | torch.Tensor | None) -> str:
    """sha256 over names, shapes and bytes of in-memory tensors."""
    import torch
    from torch import nn

    h = hashlib.sha256()
    if module_or_tensors is None:
        return h.hexdigest()
    if isinstance(module_or_tensors, torch.Tensor):
        items = [("", module_or_tensors)]
    elif isinstance(module_or_tensors, nn.Module):
        items = list(module_or_tensors.state_dict().items())
    else:
        items = list(module_or_tensors.items())
    for name, t in sorted(items, key=lambda kv: kv[0]):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}|{tuple(t.shape)}|{t.dtype}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def combine(parts: Iterable[str]) -> str:
    """One fingerprint from labelled parts (order-independent)."""
    h = hashlib.sha256()
    for part in sorted(parts):
        h.update(part.encode())
        h.update(b"\n")
    return h.hexdigest()
