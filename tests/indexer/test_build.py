"""End-to-end builds with the tiny random-weight encoder stack."""
from __future__ import annotations

from dataclasses import replace

import json
import tarfile

import numpy as np
import pytest
from PIL import Image

from xmodal.indexer import open_index
from xmodal.indexer.build import BuildConfig, build
from xmodal.indexer.shards import read_shard


def test_build_then_search_finds_planted_neighbours(media_corpus, tmp_path, tiny):
    out = tmp_path / "ix"
    report = build(BuildConfig([str(media_corpus)], str(out), model="tiny", shard_size=4),
                   stack=tiny, progress=False)
    assert report.skipped == []
    ix = open_index(out)
    assert ix.manifest.counts == {"image": 8, "audio": 2, "text": 1, "caption": 8,
                                  "total": 19, "deleted": 0}
    # the planted item: querying with an indexed image's own vector finds it first
    for name in ("img2.png", "img6.png"):
        q = tiny.encode_images([str(media_corpus / name)])
        _, labels = ix.search(q, 3, labels=ix.labels_where(modality="image", kind="item"))
        assert ix.rows(labels[0][:1])[0].id == name
    q = tiny.encode_audio([str(media_corpus / "sounds" / "b.wav")])
    _, labels = ix.search(q, 1, labels=ix.labels_where(modality="audio"))
    assert ix.rows(labels[0])[0].id == "sounds/b.wav"
    # captions are indexed as text vectors pointing at their item
    q = tiny.encode_text(["img caption number 5"])
    _, labels = ix.search(q, 1)
    row = ix.rows(labels[0])[0]
    assert (row.kind, row.parent_id, row.text) == ("caption", "img5.png", "img caption number 5")
    meta = ix.rows([ix.label_of("img3.png")])[0].metadata
    assert meta == {"license": "cc0", "tags": {"animal": "cat"}}
    assert ix.labels_where(where={"tags.animal": "cat"}).size == 2  # item + its caption
    assert json.loads((out / "build-report.json").read_text())["counts"]["total"] == 19


def test_robust_corpus_completes_and_reports_every_skip(tmp_path, tiny):
    root = tmp_path / "bad"
    root.mkdir()
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(root / "good.png")
    (root / "good.txt").write_text("   ")  # empty caption
    (root / "zero.png").write_bytes(b"")
    (root / "junk.jpg").write_bytes(b"\x00\x01 definitely not a jpeg")
    (root / "truncated.png").write_bytes((root / "good.png").read_bytes()[:60])
    Image.new("1", (20000, 20000)).save(root / "bomb.png")  # 4e8 declared pixels
    (root / "renamed.bin").write_bytes((root / "good.png").read_bytes())  # sniffed, not by ext
    (root / "empty.txt").write_text("\n \n")
    (root / "orphan.json").write_text("{not json")
    (root / "dangling.png").symlink_to(root / "gone.png")  # unreadable: target missing
    manifest = tmp_path / "more.jsonl"
    manifest.write_text("\n".join([
        json.dumps({"id": "dup", "text": "first"}), json.dumps({"id": "dup", "text": "second"}),
        "{broken", json.dumps({"id": "nothing"}), json.dumps({"id": "t2", "text": "ok text"})]))
    report = build(BuildConfig([str(root), str(manifest)], str(tmp_path / "ix"), model="tiny"),
                   stack=tiny, progress=False)
    reasons = {s["item"].split("/")[-1]: s["reason"] for s in report.skipped}
    assert "empty file" in reasons["zero.png"]
    assert "not a recognised" in reasons["junk.jpg"]
    assert "bomb" in reasons["bomb.png"] or "too large" in reasons["bomb.png"]
    assert "truncated.png" in reasons  # decoder error reported, not fatal
    assert reasons["good.png#caption0"] == "empty caption"
    assert "empty text" in reasons["empty.txt"]
    assert "orphan.json" in reasons
    assert "duplicate id 'dup'" in reasons["dup"]
    assert "invalid JSON" in reasons["more.jsonl:3"]
    assert "neither a path nor a text" in reasons["more.jsonl:4"]
    assert "unreadable" in reasons["dangling.png"]
    assert len(report.skipped) == 11
    ix = open_index(tmp_path / "ix")
    ids = {r.id for r in ix.rows(ix.labels_where())}
    assert ids == {"good.png", "renamed.bin", "dup", "t2"}
    assert ix.rows([ix.label_of("dup")])[0].text == "first"


class Crash(RuntimeError):
    pass


def test_resume_after_crash_gives_identical_index(media_corpus, tmp_path, tiny):
    cfg = dict(corpus=[str(media_corpus)], model="tiny", shard_size=3)
    ref = tmp_path / "ref"
    build(BuildConfig(out=str(ref), **cfg), stack=tiny, progress=False)

    crashed = tmp_path / "crashed"
    done: list[str] = []

    def fail_after_two(k, name, reused, n):
        done.append(name)
        if k == 1:
            raise Crash("simulated kill after 2 shards")

    with pytest.raises(Crash):
        build(BuildConfig(out=str(crashed), **cfg), stack=tiny, progress=False, on_shard=fail_after_two)
    assert not (crashed / "manifest.json").exists()  # nothing published, nothing half-written
    seen = []
    report = build(BuildConfig(out=str(crashed), **cfg), stack=tiny, progress=False,
                   on_shard=lambda k, name, reused, n: seen.append((name, reused)))
    assert [r for _, r in seen] == [True, True] + [False] * (len(seen) - 2)
    assert [n for n, _ in seen[:2]] == done  # the very shards the killed run finished
    assert report.embed.shards_reused == 2
    a, b = open_index(ref), open_index(crashed)
    la, lb = a.labels_where(), b.labels_where()
    assert [r.id for r in a.rows(la)] == [r.id for r in b.rows(lb)]
    np.testing.assert_array_equal(a.vectors(la), b.vectors(lb))
    for name in seen:
        np.testing.assert_array_equal(read_shard(ref, name[0]).vectors, read_shard(crashed, name[0]).vectors)


def test_tar_shards_and_manifests(tmp_path, tiny):
    src = tmp_path / "src"
    src.mkdir()
    rng = np.random.default_rng(2)
    with tarfile.open(tmp_path / "shard-000.tar", "w") as tf:
        for i in range(3):
            p = src / f"s{i}.jpg"
            Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(p)
            (src / f"s{i}.txt").write_text(f"tar caption {i}")
            (src / f"s{i}.json").write_text(json.dumps({"k": i}))
            for ext in ("jpg", "txt", "json"):
                tf.add(src / f"s{i}.{ext}", arcname=f"sample{i:03d}.{ext}")
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"id": ["p1"], "path": [str(src / "s0.jpg")], "caption": ["pq cap"],
                             "source": ["parquet"]}), tmp_path / "m.parquet")
    (tmp_path / "m.csv").write_text("id,text,lang\nc1,hello from csv,en\n")
    build(BuildConfig([str(tmp_path / "shard-000.tar"), str(tmp_path / "m.parquet"), str(tmp_path / "m.csv")],
                      str(tmp_path / "ix"), model="tiny"), stack=tiny, progress=False)
    ix = open_index(tmp_path / "ix")
    row = ix.rows([ix.label_of("shard-000/sample001")])[0]
    assert row.uri.endswith("shard-000.tar::sample001.jpg") and row.metadata == {"k": 1}
    q = tiny.encode_images([str(src / "s1.jpg")])  # same bytes as the tar member
    _, labels = ix.search(q, 1, labels=ix.labels_where(modality="image"))
    assert ix.rows(labels[0])[0].id in ("shard-000/sample001",)
    assert ix.rows([ix.label_of("p1")])[0].metadata == {"source": "parquet"}
    assert ix.rows([ix.label_of("c1")])[0].text == "hello from csv"


def test_rebuild_reuses_shards_and_old_readers_keep_working(media_corpus, tmp_path, tiny):
    out = tmp_path / "ix"
    cfg = BuildConfig([str(media_corpus)], str(out), model="tiny", shard_size=4)
    build(cfg, stack=tiny, progress=False)
    first = open_index(out)
    q = tiny.encode_images([str(media_corpus / "img1.png")])
    _, before = first.search(q, 3)
    same = build(cfg, stack=tiny, progress=False)  # nothing changed: reported up to date, not republished
    assert same.up_to_date and same.generation == 1 and not first.is_stale()
    report = build(replace(cfg, force=True), stack=tiny, progress=False)
    assert report.embed.shards_reused == report.embed.shards and report.embed.records_embedded == 0
    assert first.is_stale() and open_index(out).generation == 2
    _, again = first.search(q, 3)  # the pinned generation still answers, with its own rows
    assert again.tolist() == before.tolist()
    assert [r.id for r in first.rows(again[0])] == [r.id for r in first.rows(before[0])]
    second = open_index(out)
    assert second.manifest.counts == first.manifest.counts
    _, now = second.search(q, 1)
    assert second.rows(now[0])[0].id == "img1.png"


def test_manifest_metadata_object_is_merged_not_nested(tmp_path):
    from xmodal.indexer.readers.manifests import row_to_entry

    row = {"text": "a cat", "metadata": {"creator": "ann", "tags": ["x"]}, "group": "cats"}
    rec = row_to_entry(row, tmp_path, "m.jsonl:1")
    assert rec.metadata == {"creator": "ann", "tags": ["x"], "group": "cats"}
    rec = row_to_entry({"text": "a dog", "metadata": "free text"}, tmp_path, "m.jsonl:2")
    assert rec.metadata == {"metadata": "free text"}
