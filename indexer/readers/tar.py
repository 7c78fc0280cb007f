"""WebDataset-style `.tar` shards: members grouped by key (the basename up
to its first dot); media members become records with uri
``<tar path>::<member name>``, ``.txt`` members are their captions (or a
text record when the group has no media), ``.json`` members their metadata.

Members whose names leave the shard (`..`, absolute), links and special
members are skipped with a line, never read; text members are size-capped
and media members too (they are read into memory to embed)."""
from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Iterator, Sequence

from xmodal.alignment.preprocess.text import escape_tree

from xmodal.alignment.core.items import Record
from .base import Entry, Skipped, caption_text, guarded, parse_sidecar_json, relative_id
from .confine import MAX_MEDIA_BYTES, Confinement, member_problem, safe_text
from .sniff import sniff_bytes, sniff_head

SEP = "::"  # tar path + SEP + member name: the uri of a tar member (public as indexer.MEMBER_SEP)
CAPTION_EXT = {"txt", "caption", "text"}


def is_member_uri(uri: str) -> bool:
    return SEP in uri and uri.split(SEP, 1)[0].lower().endswith(".tar")


def split_member_uri(uri: str) -> tuple[str, str]:
    tar, member = uri.split(SEP, 1)
    return tar, member


def read_members(tar_path: str, names: Sequence[str]) -> dict[str, bytes]:
    """Bytes of the named members, in one pass over the archive."""
    want = set(names)
    out: dict[str, bytes] = {}
    try:
        with tarfile.open(tar_path, "r:*") as tf:
            for m in tf:
                if m.name in want and m.isfile():
                    fh = tf.extractfile(m)
                    out[m.name] = fh.read() if fh else b""
                    if len(out) == len(want):
                        break
    except (OSError, tarfile.TarError):
        pass  # missing members surface as per-item "empty" errors
    return out


def _key(name: str) -> tuple[str, str]:
    """'dir/abc.seg.jpg' -> ('dir/abc', 'seg.jpg') as WebDataset groups them."""
    p = Path(name)
    base, _, ext = p.name.partition(".")
    return str(p.parent / base) if str(p.parent) != "." else base, ext.lower()


def _kind(m: tarfile.TarInfo) -> str:
    if m.issym() or m.islnk():
        return "link"
    return "device or FIFO" if (m.ischr() or m.isblk() or m.isfifo()) else "special member"


def _member_skip(path: Path, m: tarfile.TarInfo, confine: Confinement) -> Skipped | None:
    """Why member `m` is not read (None: read it)."""
    where = safe_text(f"{path}{SEP}{m.name}")
    reason = member_problem(m.name, m.isfile(), _kind(m))
    if reason:
        return Skipped(where, reason)
    last = _key(m.name)[1].split(".")[-1]
    if last in CAPTION_EXT | {"json"}:
        return confine.text_too_big(m.size, where)
    if m.size > MAX_MEDIA_BYTES:
        return Skipped(where, f"member is {m.size >> 20} MB, over the {MAX_MEDIA_BYTES >> 20} MB cap")
    return None


def read_tar(path: str | Path, root: str | Path | None = None,
             confine: Confinement | None = None) -> Iterator[Entry]:
    """Records of one tar shard, in member order."""
    path = Path(path)
    confine = confine or Confinement.for_paths([path])
    tar_id = safe_text(relative_id(Path(root), path) if root else path.name)
    tar_id = tar_id[: -len(".tar")] if tar_id.endswith(".tar") else tar_id
    try:
        tf = tarfile.open(path, "r:*")
    except (OSError, tarfile.TarError) as exc:
        yield Skipped(safe_text(str(path)), f"unreadable tar shard ({exc})")
        return
    groups: dict[str, list[tuple[str, str, bytes]]] = {}
    order: list[str] = []
    try:
        with tf:
            for m in tf:
                if m.isdir():
                    continue
                problem = _member_skip(path, m, confine)
                if problem:
                    yield problem
                    continue
                key, ext = _key(m.name)
                fh = tf.extractfile(m)
                # Media bytes are read later by the embedding stage; keep only heads here.
                data = fh.read() if ext.split(".")[-1] in CAPTION_EXT | {"json"} else fh.read(4096)
                if key not in groups:
                    groups[key] = []
                    order.append(key)
                groups[key].append((m.name, ext, data if m.size else b""))
    except (OSError, tarfile.TarError) as exc:
        yield Skipped(safe_text(str(path)), f"tar shard truncated or corrupt after {len(order)} samples ({exc})")
    for key in order:
        yield from guarded(lambda: _group(path, tar_id, key, groups[key]), safe_text(f"{path}{SEP}{key}"))


def _group(path: Path, tar_id: str, key: str, members: list[tuple[str, str, bytes]]) -> Iterator[Entry]:
    captions: list[str] = []
    metadata: dict = {}
    media: list[tuple[str, str]] = []
    for name, ext, data in members:
        where = safe_text(f"{path}{SEP}{name}")
        last = ext.split(".")[-1]
        if last in CAPTION_EXT:
            cap, problem = caption_text(data, where)
            if problem:
                yield problem
            elif cap is not None:
                captions.append(cap)
        elif last == "json":
            meta, extra, problem = parse_sidecar_json(data, where)
            if problem:
                yield problem
            metadata.update(escape_tree(meta))
            captions.extend(escape_tree(extra))
        else:
            modality = sniff_head(data[:64]) if data else None
            if modality is None:
                modality, reason = sniff_bytes(data, name)
                if modality is None:
                    yield Skipped(where, reason or "unknown content")
                    continue
            media.append((name, modality))
    if not media:
        texts = [c for c in captions if c]
        if texts:
            yield Record(id=safe_text(f"{tar_id}/{key}"), modality="text", text=texts[0],
                         uri=f"{path}{SEP}{members[0][0]}", metadata=metadata)
        else:
            yield Skipped(safe_text(f"{path}{SEP}{key}"), "sample has no media and no text")
        return
    for i, (name, modality) in enumerate(media):
        suffix = "" if len(media) == 1 else f".{name.rsplit('.', 1)[-1]}"
        yield Record(id=safe_text(f"{tar_id}/{key}{suffix}"), modality=modality, uri=f"{path}{SEP}{name}",
                     captions=list(captions), metadata=dict(metadata))
