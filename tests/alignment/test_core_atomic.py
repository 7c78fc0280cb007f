"""The one atomic-write recipe: old or new file, whole; nothing left behind."""
import json

import pytest

from xmodal.alignment.core import atomic
from xmodal.alignment.core.atomic import atomic_path, atomic_write_bytes, atomic_write_json


def test_write_replaces_the_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "sub" / "m.json"  # parents are created
    atomic_write_json(target, {"b": 1, "a": 2}, sort_keys=True)
    assert target.read_text() == '{"a": 2, "b": 1}'
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["m.json"]


def test_a_failing_writer_keeps_the_old_file(tmp_path):
    target = tmp_path / "index.faiss"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed mid-write")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["index.faiss"]


def test_the_file_is_fsynced_before_the_rename_and_the_dir_after(tmp_path, monkeypatch):
    events = []
    real_replace = atomic.os.replace
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: events.append("fsync"))
    monkeypatch.setattr(atomic.os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b)))
    atomic_write_bytes(tmp_path / "x", b"1")
    assert events == ["fsync", "replace", "fsync"]


def test_suffix_keeps_an_extension_writers_sniff(tmp_path):
    with atomic_path(tmp_path / "clip.wav", suffix=".wav") as tmp:
        assert tmp.name.endswith(".wav") and tmp.name.startswith(".clip.wav.tmp-")
        tmp.write_bytes(b"RIFF")
    assert json.dumps((tmp_path / "clip.wav").read_bytes().decode()) == '"RIFF"'
