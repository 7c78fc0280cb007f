"""On-disk IVF builds (trained on a sample, parts merged into OnDiskInvertedLists,
served memory-mapped) and sharded serving (parts searched and merged)."""
from __future__ import annotations

import json

import faiss
import numpy as np
import pytest

from indexer_helpers import clustered
from xmodal.indexer import open_index
from xmodal.indexer.build import BuildConfig, build
from xmodal.indexer.searching import exact_search, recall_at_k
from xmodal.indexer.sharded import IndexParts
from xmodal.indexer.update import add, remove

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def vec_index(tmp_path_factory):
    root = tmp_path_factory.mktemp("od")
    x = clustered(12000, 32, clusters=40, spread=0.3, seed=1)
    (root / "vecs").mkdir()
    np.save(root / "vecs" / "a.npy", x[:7000] * 3.0)  # unnormalised on purpose
    np.save(root / "vecs" / "b.npy", x[7000:])
    report = build(BuildConfig([str(root / "vecs")], str(root / "ix"), factory="IVF32,SQ8", on_disk=True,
                               memory=64 * 1024**2, recall=0.9), progress=False)
    return root, x, report


def test_ondisk_build_is_two_parts_mapped_from_disk_and_meets_recall(vec_index):
    root, x, report = vec_index
    ix = open_index(root / "ix")
    m = ix.manifest
    assert m.stats.on_disk and m.stats.ivfdata == "index.1.ivfdata" and m.parts == ["index.1.part1.faiss"]
    assert isinstance(ix.index, IndexParts) and ix.index.ntotal == 12000 == m.counts["total"]
    main = ix.index.parts[0]
    assert isinstance(faiss.downcast_InvertedLists(faiss.extract_index_ivf(main).invlists),
                      faiss.OnDiskInvertedLists)
    assert m.stats.file_bytes >= (root / "ix" / "index.1.ivfdata").stat().st_size > 12000 * 32 * 0.9
    assert m.stats.resident_bytes_served > 0 and m.stats.tune_held_out
    assert m.stats.recall_at_10 >= 0.9 and report.index_stats.recall_target_met
    # fresh queries (never indexed) against exact search over the same normalised vectors
    q = clustered(200, 32, clusters=40, spread=0.3, seed=1)[:200] + 0.02
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    _, found = ix.search(q, 10)
    _, truth = exact_search(x, q, 10)
    labels = ix.labels_where()
    ids = {int(lab): r.id for lab, r in zip(labels, ix.rows(labels))}
    want = [f"a:{t}" if t < 7000 else f"b:{t - 7000}" for t in truth.ravel()]
    got_ids = np.array([ids.get(int(f), "") for f in found.ravel()]).reshape(found.shape)
    hit = np.mean([len(set(g) & set(w)) / 10 for g, w in zip(got_ids, np.array(want).reshape(truth.shape))])
    assert hit >= 0.85
    # a filter reaches every part, and only allowed labels come back
    allowed = labels[::3]
    _, fl = ix.search(q[:5], 10, labels=allowed)
    assert set(fl.ravel()) <= set(allowed.tolist())


def test_remove_on_ondisk_index_keeps_the_shared_lists_and_hides_rows(vec_index, tmp_path):
    import shutil

    root, x, _ = vec_index
    ix_dir = tmp_path / "copy"
    shutil.copytree(root / "ix", ix_dir)
    q = (x[:3] * 1.0)
    before = open_index(ix_dir).search(q, 1)[1][:, 0]
    out = remove(ix_dir, ["a:0", "a:1", "a:2"])
    assert out.removed == 3
    out = remove(ix_dir, ["b:5"])
    ix = open_index(ix_dir)
    assert ix.manifest.generation == 3 and ix.manifest.stats.ivfdata == "index.1.ivfdata"
    assert (ix_dir / "index.1.ivfdata").is_file() and not (ix_dir / "index.1.faiss").exists()
    _, found = ix.search(q, 10)
    assert not set(before.tolist()) & set(found.ravel().tolist())
    assert ix.manifest.counts["total"] == 12000 - 4


def test_ondisk_corpus_build_then_add_and_search_through_the_engine(tmp_path, tiny):
    from xmodal.search import Engine, Query

    man = tmp_path / "t.jsonl"
    man.write_text("".join(json.dumps({"id": f"t{i}", "text": f"word{i % 97} item {i}", "group": i % 3}) + "\n"
                           for i in range(3000)))
    out = tmp_path / "ix"
    build(BuildConfig([str(man)], str(out), model="tiny", factory="IVF16,SQ8", on_disk=True,
                      recall=0.8, shard_size=700), stack=tiny, progress=False)
    new = tmp_path / "new.jsonl"
    new.write_text(json.dumps({"id": "fresh", "text": "a brand new sentence about comets", "group": 9}) + "\n")
    res = add(out, [str(new)], stack=tiny)
    assert res.added == 1 and res.generation == 2
    eng = Engine.open(str(out), encoder=tiny)
    hits = eng.search(Query(text="a brand new sentence about comets"), k=3)
    assert hits[0].id == "fresh"
    hits = eng.search(Query(text="word5 item 5"), k=5, where={"group": 2})
    assert len(hits) == 5 and all(h.metadata["group"] == 2 for h in hits)


def test_parts_search_merges_to_the_single_index_answer():
    x = clustered(3000, 16, seed=3)
    q = clustered(20, 16, seed=4)
    one = faiss.IndexIDMap2(faiss.IndexFlatIP(16))
    one.add_with_ids(x, np.arange(3000))
    parts = []
    for chunk in np.array_split(np.arange(3000), 3):
        p = faiss.IndexIDMap2(faiss.IndexFlatIP(16))
        p.add_with_ids(x[chunk], chunk)
        parts.append(p)
    s1, l1 = one.search(q, 10)
    s3, l3 = IndexParts(parts).search(q, 10)
    np.testing.assert_allclose(s1, s3, rtol=1e-6)
    assert recall_at_k(l3, l1, 10) == 1.0


def test_streamed_exact_search_equals_one_scan():
    x = clustered(5000, 24, seed=5)
    q = clustered(30, 24, seed=6)
    s_all, l_all = exact_search(x, q, 10, chunk=10**6)
    s_str, l_str = exact_search(x, q, 10, chunk=333)
    np.testing.assert_allclose(s_all, s_str, rtol=1e-6)
    assert recall_at_k(l_str, l_all, 10) == 1.0
    rows = np.arange(0, 5000, 7)
    _, l_rows = exact_search(x, q, 10, labels=np.arange(5000) + 100, rows=rows, chunk=50)
    assert set(l_rows.ravel() - 100) <= set(rows.tolist())
