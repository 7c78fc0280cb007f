"""Hypothesis-generated hostile trees against the corpus readers (issue 15,
scope 3): odd and undecodable names, names that look like caption ids,
symlinks in and out of the corpus, FIFOs, tar shards with escaping or link
members, oversize texts. Whatever the tree, reading it never raises, never
blocks, never yields anything outside the root, and yields ids (with their
caption ids) that are unique and valid Unicode."""
from __future__ import annotations

import io
import os
import signal
import tarfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

pytest.importorskip("hypothesis")  # the `test` extra installs it
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from xmodal.indexer.embed import caption_id  # noqa: E402
from xmodal.indexer.readers import Record, Skipped, read_corpus  # noqa: E402

SECRET = "FUZZ-SECRET-OUTSIDE"
CAP = 1024

_names = st.one_of(
    st.sampled_from(["a.png", "a.txt", "a.json", "a.png#caption0", "b.wav", "n.txt", "s.tar", "x.md",
                     "dup.png", "dup.txt", "dup.png#caption1", " sp ace.png", "ü.png"]),
    st.binary(min_size=1, max_size=10).map(lambda b: b.replace(b"/", b"_").replace(b"\0", b"_")),
)
_kinds = st.sampled_from(["png", "wav", "text", "json", "badjson", "garbage", "empty", "bigtext",
                          "link_in", "link_out", "link_dir_out", "fifo", "tar"])


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 6), (10, 200, 30)).save(buf, "PNG")
    return buf.getvalue()


def _wav() -> bytes:
    buf = io.BytesIO()
    sf.write(buf, (0.2 * np.sin(np.arange(800) / 5)).astype(np.float32), 8000, format="WAV")
    return buf.getvalue()


def _tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (("../up.png", _png()), ("ok.png", _png()), ("ok.txt", b"cap"),
                           ("/abs.txt", SECRET.encode()), ("big.txt", b"q" * (CAP + 1))):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("lnk.png")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    return buf.getvalue()


def _make(root: Path, outside: Path, name: bytes | str, kind: str) -> None:
    raw = name if isinstance(name, bytes) else name.encode()
    if raw in (b".", b".."):
        return
    path = os.fsdecode(bytes(root) + b"/" + raw)
    if os.path.lexists(path):
        return
    data = {"png": _png, "wav": _wav, "tar": _tar}.get(kind)
    if data:
        Path(path).write_bytes(data())
    elif kind in ("text", "json", "badjson", "garbage", "empty", "bigtext"):
        Path(path).write_bytes({"text": b"some words", "json": b'{"license": "cc0", "k": "\\udfff"}',
                                "badjson": b"{nope", "garbage": os.urandom(40), "empty": b"",
                                "bigtext": b"w" * (CAP + 10)}[kind])
    elif kind == "link_in":
        (root / "target.png").exists() or (root / "target.png").write_bytes(_png())
        os.symlink(root / "target.png", path)
    elif kind == "link_out":
        os.symlink(outside / "secret.txt", path)
    elif kind == "link_dir_out":
        os.symlink(outside, path)
    elif kind == "fifo":
        os.mkfifo(path)


def _inside(path: str, root: Path) -> bool:
    real = os.path.realpath(path.split("::", 1)[0])
    return real == str(root) or real.startswith(str(root) + os.sep)


class _Hang(Exception):
    pass


def _alarm(*_):
    raise _Hang("reading the corpus blocked (a FIFO opened?)")


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(tree=st.lists(st.tuples(_names, _kinds), min_size=1, max_size=8))
def test_hostile_trees_are_read_safely(tree, tmp_path_factory):
    base = tmp_path_factory.mktemp("fuzz")
    root, outside = base / "corpus", base / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    for name, kind in tree:
        _make(root, outside, name, kind)
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(30)
    try:
        entries = list(read_corpus([str(root)], max_text_bytes=CAP))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    taken: set[str] = set()
    for e in entries:
        if isinstance(e, Skipped):
            e.item.encode("utf-8"), e.reason.encode("utf-8")
            continue
        assert isinstance(e, Record)
        ids = [e.id, *(caption_id(e.id, j) for j in range(len(e.captions)))]
        for i in ids:
            i.encode("utf-8")  # valid Unicode: SQLite and JSON can carry it
            assert i not in taken, f"id {i!r} given twice"
            taken.add(i)
        if e.uri:
            assert _inside(e.uri, root.resolve()), e.uri
            member = e.uri.partition("::")[2]
            assert not member.startswith("/") and ".." not in Path(member).parts, e.uri
        for text in [e.text or "", *e.captions]:
            assert SECRET not in text and len(text.encode("utf-8")) <= CAP
        assert SECRET not in repr(e.metadata)
        repr(e.metadata).encode("utf-8")
