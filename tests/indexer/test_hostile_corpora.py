"""Hostile corpora (issue 15, failures 1, 3 and 5): nothing outside the
corpus roots is read, no single file aborts a build, texts are capped.
Each case is a file a user could hand us; the build must finish, index
what is legitimate and name every skipped item with its rule."""
from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pytest
from PIL import Image

from xmodal.indexer import open_index
from xmodal.indexer.build import BuildConfig, build

SECRET = "TOP-SECRET-OUTSIDE-THE-CORPUS"


def _png(path: Path, color=(200, 20, 20)) -> None:
    Image.new("RGB", (24, 20), color).save(path, "PNG")


def _ids(index_dir) -> set[str]:
    ix = open_index(index_dir)
    return {r.id for r in ix.rows(ix.labels_where())}


def _texts(index_dir) -> str:
    ix = open_index(index_dir)
    return json.dumps([(r.text, r.metadata, r.uri) for r in ix.rows(ix.labels_where())])


def _skips(report) -> dict[str, str]:
    return {s["item"]: s["reason"] for s in report.skipped}


@pytest.fixture()
def outside(tmp_path):
    d = tmp_path / "outside"
    d.mkdir()
    (d / "secret.txt").write_text(SECRET)
    _png(d / "far.png", (1, 2, 3))
    return d


@pytest.fixture()
def hostile(tmp_path, outside):
    root = tmp_path / "corpus"
    root.mkdir()
    _png(root / "ok.png")
    (root / "ok.txt").write_text("a red picture")
    os.symlink(outside / "secret.txt", root / "secret_link.txt")  # a text item pointing out
    _png(root / "cap.png", (9, 9, 200))
    os.symlink(outside / "secret.txt", root / "cap.txt")  # a caption pointing out
    os.symlink(outside / "far.png", root / "far_link.png")  # an image pointing out
    os.symlink(root / "ok.png", root / "inner_link.png")  # a symlink inside: fine
    os.symlink(outside, root / "linked_dir")  # a folder pointing out: not followed
    os.mkfifo(root / "pipe.txt")  # reading would block forever
    # failure 3: caption id collision and undecodable file names
    _png(root / "dup.png", (5, 50, 5))
    (root / "dup.txt").write_text("the dup caption")
    _png(root / "dup.png#caption0", (50, 5, 5))
    _png(Path(os.fsdecode(bytes(root) + b"/bad\xff\xfename.png")), (7, 7, 7))
    # failure 5: a caption far over the cap
    _png(root / "big.png", (3, 3, 3))
    (root / "big.txt").write_text("x" * (1 << 20))
    # failure 1, tar: a member climbing out of the shard, a symlink member, a normal one
    with tarfile.open(root / "shard.tar", "w") as tar:
        for name in ("../../../x.png", "fine.png"):
            buf = io.BytesIO()
            Image.new("RGB", (16, 16), (0, 99, 0)).save(buf, "PNG")
            info = tarfile.TarInfo(name)
            info.size = len(buf.getvalue())
            tar.addfile(info, io.BytesIO(buf.getvalue()))
        link = tarfile.TarInfo("evil.png")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    return root


def test_a_hostile_folder_builds_and_reads_nothing_outside(hostile, outside, tmp_path, tiny):
    out = tmp_path / "ix"
    report = build(BuildConfig([str(hostile)], str(out), model="tiny"), stack=tiny, progress=False)
    ids = _ids(out)
    assert {"ok.png", "cap.png", "inner_link.png", "dup.png", "big.png", "shard/fine"} <= ids
    assert "bad\\xff\\xfename.png" in ids  # undecodable bytes carried as an escaped id
    assert not ids & {"secret_link.txt", "far_link.png", "pipe.txt", "shard/../../../x", "shard/evil"}
    assert SECRET not in _texts(out) and "root:" not in _texts(out)
    skips = _skips(report)

    def reason(fragment):
        return next(r for item, r in skips.items() if fragment in item)

    for name in ("secret_link.txt", "cap.txt", "far_link.png"):
        assert "outside the corpus roots" in reason(name) and "--allow-root" in reason(name)
    assert "not followed" in reason("linked_dir")
    assert "not a regular file" in reason("pipe.txt")
    assert "leaves the shard" in reason("../../../x.png")
    assert "link" in reason("evil.png")
    assert "cap" in reason("big.txt") and "--max-text-bytes" in reason("big.txt")
    assert "dup.png#caption0" in reason("dup.png#caption0")
    ix = open_index(out)
    dup = ix.rows([ix.label_of("dup.png")])[0]
    assert dup.text == "the dup caption"
    bad = ix.rows([ix.label_of("bad\\xff\\xfename.png")])[0]
    assert os.path.isfile(bad.uri)  # the stored uri still opens the file


def test_allow_root_lets_a_named_folder_in(hostile, outside, tmp_path, tiny):
    out = tmp_path / "ix"
    report = build(BuildConfig([str(hostile)], str(out), model="tiny", allow_roots=[str(outside)]),
                   stack=tiny, progress=False)
    ids = _ids(out)
    assert {"secret_link.txt", "far_link.png"} <= ids and "pipe.txt" not in ids
    ix = open_index(out)
    assert ix.rows([ix.label_of("cap.png")])[0].text == SECRET  # the caption behind the link
    assert not any("outside the corpus roots" in r for r in _skips(report).values())


def test_a_hostile_manifest_names_nothing_outside(tmp_path, tiny):
    root = tmp_path / "m"
    root.mkdir()
    _png(root / "a.png")
    rows = [{"path": "a.png"}, {"path": "/etc/passwd", "modality": "text"},
            {"path": "../../../../etc/hostname", "modality": "text"},
            {"path": "/proc/self/environ", "modality": "text"}, {"path": "/dev/zero"},
            {"text": "y" * (100 << 10)}, {"text": "a fine text", "id": "t\udcffx"}]
    (root / "corpus.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    os.environ["XMODAL_CAMPAIGN_CANARY"] = SECRET
    try:
        out = tmp_path / "ix"
        report = build(BuildConfig([str(root / "corpus.jsonl")], str(out), model="tiny"), stack=tiny,
                       progress=False)
    finally:
        del os.environ["XMODAL_CAMPAIGN_CANARY"]
    assert _ids(out) == {"a.png", "t\\xffx"}
    assert SECRET not in _texts(out) and "root:" not in _texts(out)
    reasons = " | ".join(_skips(report).values())
    assert reasons.count("outside the corpus roots") + reasons.count("special file system") >= 4
    assert "cap" in reasons


def test_text_cap_is_configurable(tmp_path, tiny):
    root = tmp_path / "c"
    root.mkdir()
    (root / "long.txt").write_text("z" * 5000)
    (root / "short.txt").write_text("short text")
    out = tmp_path / "ix"
    report = build(BuildConfig([str(root)], str(out), model="tiny", max_text_bytes=1000), stack=tiny,
                   progress=False)
    assert _ids(out) == {"short.txt"}
    assert any("long.txt" in s["item"] and "1000 bytes" in s["reason"] for s in report.skipped)
