"""What responses show of where files live: paths relative to the corpus
root an item came from (a server should not tell every client its file
system layout), unless the server was started with absolute paths."""
from __future__ import annotations

import os
from functools import lru_cache
from typing import Sequence

from xmodal.indexer import MEMBER_SEP


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


@lru_cache(maxsize=4096)
def _real(path: str) -> str:
    return os.path.realpath(path)


def relative_uri(uri: str | None, roots: Sequence[str]) -> str | None:
    """'/data/corpus/a/cat.png' -> 'a/cat.png' for root '/data/corpus';
    'shard.tar::x.png' keeps its member. A root that is a file (a tar
    shard, a manifest) counts by its folder. Outside every root (an index
    built before roots were recorded): the file name only."""
    if not uri:
        return uri
    file_part, sep, member = uri.partition(MEMBER_SEP)
    real = _real(file_part)
    bases = [r if os.path.isdir(r) else os.path.dirname(r) for r in roots]
    inside = [b for b in bases if _inside(real, b)]
    shown = os.path.relpath(real, max(inside, key=len)) if inside else os.path.basename(file_part)
    return shown + sep + member
