"""Incremental add / upsert / delete, generations, and compaction."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from xmodal.alignment.core.errors import XmodalError
from xmodal.indexer import open_index
from xmodal.indexer.build import BuildConfig, build
from xmodal.indexer.factory import Thresholds
from xmodal.indexer.indexing import IndexOptions
from xmodal.indexer.update import add, compact, remove

from indexer_helpers import clustered, make_images, synthetic_index


def _top_ids(ix, q, k=3, **filt):
    labels = ix.labels_where(**filt) if filt else None
    _, found = ix.search(q, k, labels=labels)
    return [r.id for r in ix.rows([x for x in found[0] if x >= 0])]


@pytest.mark.parametrize("factory", [None, "HNSW8"])
def test_add_upsert_delete_visible_to_search(media_corpus, tmp_path, tiny, factory):
    out = tmp_path / "ix"
    build(BuildConfig([str(media_corpus)], str(out), model="tiny", factory=factory), stack=tiny,
          progress=False)
    before = open_index(out)
    more = tmp_path / "more"
    new = make_images(more, 2, seed=7, prefix="new")
    res = add(out, [str(more)], stack=tiny)
    assert res.added == 2 and res.generation == 2
    assert before.is_stale()
    q_new = tiny.encode_images([str(new[1])])
    new_id = str(new[1].resolve())  # outside the corpus root: an absolute-path id, never a corpus id
    assert new_id not in _top_ids(before, q_new, 5)  # the old generation is untouched
    after = open_index(out)
    assert _top_ids(after, q_new, 1, modality="image") == [new_id]
    assert after.label_of(new_id + "#caption0") is not None

    # the same id again (a corpus file, changed) is skipped unless --upsert; upsert replaces the vector
    repl = media_corpus
    Image.fromarray(np.full((24, 24, 3), 200, np.uint8)).save(repl / "img4.png")
    res = add(out, [str(repl / "img4.png")], stack=tiny)
    assert res.added == 0 and "already in the index" in res.skipped[0]["reason"]
    old_label = open_index(out).label_of("img4.png")
    res = add(out, [str(repl / "img4.png")], stack=tiny, upsert=True)
    assert res.added == 1 and res.replaced == 1
    ix = open_index(out)
    assert ix.label_of("img4.png") != old_label
    q = tiny.encode_images([str(repl / "img4.png")])
    assert _top_ids(ix, q, 1, modality="image") == ["img4.png"]
    np.testing.assert_allclose(ix.vectors([ix.label_of("img4.png")]), q, atol=2e-3)  # fp16 shards

    # delete: the item and its caption disappear from search
    with pytest.raises(XmodalError, match="no-such-id"):  # unknown id: an error, nothing removed
        remove(out, ["img2.png", "no-such-id"])
    assert open_index(out).label_of("img2.png") is not None
    res = remove(out, ["img2.png"])
    assert res.removed == 1 and res.not_found == []
    ix = open_index(out)
    q2 = tiny.encode_images([str(media_corpus / "img2.png")])
    assert "img2.png" not in _top_ids(ix, q2, 20)
    assert ix.label_of("img2.png") is None and ix.label_of("img2.png#caption0") is None
    assert ix.manifest.counts["image"] == 9 and ix.manifest.generation == 5


@pytest.mark.parametrize("family,opts", [
    ("ivf-flat", IndexOptions(thresholds=Thresholds(flat_max=100, hnsw_max=200), tune_queries=100,
                              scan_fallback=False)),
    ("hnsw", IndexOptions(thresholds=Thresholds(flat_max=100, hnsw_max=10_000), tune_queries=100,
                          scan_fallback=False)),
])
def test_remove_and_compact_without_rebuild(tmp_path, family, opts):
    x = clustered(3000, 16)
    m = synthetic_index(tmp_path, x, opts)
    assert m.stats.family == family
    pinned = open_index(tmp_path)
    gone = [f"v{i}" for i in range(0, 3000, 3)]
    remove(tmp_path, gone)
    ix = open_index(tmp_path)
    _, found = ix.search(x[:30], 10)
    assert not {int(v) for v in found.ravel()} & set(range(0, 3000, 3))
    assert ix.manifest.counts["image"] == 2000 and ix.manifest.factory == m.factory
    _, old = pinned.search(x[:1], 1)
    assert old[0, 0] == 0  # a reader of the previous generation still sees v0
    res = compact(tmp_path, log=lambda s: None)
    assert res.deleted_before == 1000
    ix = open_index(tmp_path)
    assert ix.manifest.counts["deleted"] == 0 and ix.index.ntotal == 2000
    _, found = ix.search(x[1:2], 1)
    assert found[0, 0] == 1


def test_writer_lock_and_wrong_encoder(tmp_path, tiny):
    x = clustered(200, 32)
    synthetic_index(tmp_path, x)
    from xmodal.indexer.publish import Writer

    with Writer(tmp_path):
        with pytest.raises(XmodalError, match="another xmodal process"):
            remove(tmp_path, ["v1"])
    with pytest.raises(XmodalError, match="built with encoder 'synthetic'"):
        add(tmp_path, [str(tmp_path)], stack=tiny)


@pytest.mark.parametrize("factory", ["IVF16,Flat", "HNSW16"])
def test_concurrent_reader_never_sees_a_half_written_generation(tmp_path, factory):
    import threading
    import time

    x = clustered(1500, 16, seed=5)
    synthetic_index(tmp_path, x, IndexOptions(factory=factory, tune_queries=50))
    problems: list[str] = []
    stop = threading.Event()
    opened = []

    def reader_loop():
        while not stop.is_set():
            try:
                ix = open_index(tmp_path)
                _, found = ix.search(x[:20], 10)
                rows = ix.rows([v for v in found.ravel() if v >= 0])  # every hit has its row
                live = set(ix.labels_where().tolist())
                if not {r.label for r in rows} <= live:
                    problems.append(f"gen {ix.generation}: hit outside its generation")
                opened.append(ix.generation)
                ix.close()
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                problems.append(f"{type(exc).__name__}: {exc}")

    t = threading.Thread(target=reader_loop)
    t.start()
    try:
        for step in range(6):
            remove(tmp_path, [f"v{i}" for i in range(step, 1500, 7)])
            seen = len(opened)
            deadline = time.time() + 20
            while len(opened) < seen + 2 and time.time() < deadline and t.is_alive():
                time.sleep(0.01)  # let the reader open the new generation
    finally:
        stop.set()
        t.join()
    assert not problems, problems[:3]
    assert len(set(opened)) >= 2  # the reader really raced the writer


def test_add_of_an_indexed_file_keeps_its_corpus_id(media_corpus, tmp_path, tiny):
    out = tmp_path / "ix"
    build(BuildConfig([str(media_corpus)], str(out), model="tiny"), stack=tiny, progress=False)
    res = add(out, [str(media_corpus / "sounds" / "a.wav")], stack=tiny)
    assert res.added == 0 and res.skipped[0]["item"] == "sounds/a.wav"
    res = add(out, [str(media_corpus / "sounds")], stack=tiny, upsert=True)
    assert res.replaced == 2 and res.added == 2
    ix = open_index(out)
    assert ix.manifest.counts["audio"] == 2 and ix.label_of("sounds/b.wav") is not None
