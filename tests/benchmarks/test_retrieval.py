"""Retrieval benchmark smoke runs with the tiny random-weight stack:
the wiring (directions, label->gallery mapping, exact vs index) is checked
against brute force over the index's own stored vectors."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from xmodal.benchmarks.cli import bench
from xmodal.benchmarks.retrieval import plan_directions, run_retrieval
from xmodal.benchmarks.retrieval_report import find_reference

from bench_media import write_png


@pytest.fixture
def small_flickr(tmp_path):
    root = tmp_path / "f30k"
    images = []
    for i in range(12):
        write_png(root / "flickr30k-images" / f"{i}.jpg", i)
        images.append({"filename": f"{i}.jpg", "split": "test",
                       "sentences": [{"raw": f"scene {i} number {j}"} for j in range(1 + i % 3)]})
    (root / "dataset_flickr30k.json").write_text(json.dumps({"images": images}))
    return root


def brute_recall_at_1(q, g, relevant):
    hits = 0
    for qi, row in enumerate(q @ g.T):
        best = max(range(len(row)), key=lambda j: (row[j], -j))
        hits += best in relevant[qi]
    return 100 * hits / len(q)


def test_flat_index_equals_exact_and_exact_equals_brute_force(small_flickr, tmp_path):
    from xmodal.indexer import open_index

    res = run_retrieval("tiny", "flickr30k", tmp_path / "out", root=str(small_flickr), factory="Flat")
    dirs = {d["direction"]: d for d in res["directions"]}
    assert set(dirs) == {"text->image", "image->text"}
    t2i, i2t = dirs["text->image"], dirs["image->text"]
    assert t2i["n_queries"] == sum(1 + i % 3 for i in range(12)) and t2i["n_gallery"] == 12
    assert i2t["n_queries"] == 12
    for d in (t2i, i2t):  # a Flat index is exact: no ANN loss
        k = d["index_k"]
        for m in ("R@1", "R@5", "R@10", "MRR", "mAP"):
            assert d["index"][m] == pytest.approx(d[f"exact@{k}"][m]), (d["direction"], m)
    # exact text->image R@1 against a loop over the stored vectors
    ix = open_index(res["index"]["path"])
    rows = ix.rows(ix.labels_where())
    imgs = [r for r in rows if r.kind == "item"]
    caps = [r for r in rows if r.kind == "caption"]
    q = ix.vectors([c.label for c in caps])
    g = ix.vectors([r.label for r in imgs])
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    g = g / np.linalg.norm(g, axis=1, keepdims=True)
    relevant = [{j for j, r in enumerate(imgs) if r.id == c.parent_id} for c in caps]
    assert t2i["exact"]["R@1"] == pytest.approx(brute_recall_at_1(q, g, relevant))
    assert res["model_aligned"] is False  # tiny: untrained heads, flagged in the report

    # the same index as an ANN-sweep vector source: held-out queries leave the base
    from xmodal.benchmarks.ann_data import load_vectors

    vs = load_vectors(res["index"]["path"], n_queries=3)
    assert len(vs.base) + len(vs.queries) == len(rows) and len(vs.queries) == 3
    base_rows = {b.tobytes() for b in vs.base}
    assert not any(q.tobytes() in base_rows for q in vs.queries)


def test_plan_directions_with_groups_links_image_and_audio():
    class R:
        def __init__(self, label, id, modality, kind, parent=None, group=None):
            self.label, self.id, self.modality, self.kind = label, id, modality, kind
            self.parent_id, self.metadata = parent, ({"group": group} if group else {})

    rows = [R(0, "img-a", "image", "item", group="frog"), R(1, "img-b", "image", "item", group="crow"),
            R(2, "snd-a", "audio", "item", group="frog"), R(3, "c0", "text", "caption", "img-a"),
            R(4, "c1", "text", "caption", "snd-a"), R(5, "c2", "text", "caption", "img-b")]
    dirs = {d.name: d for d in plan_directions(rows)}
    assert set(dirs) == {"text->image", "image->text", "text->audio", "audio->text",
                         "image->audio", "audio->image"}
    i2a = dirs["image->audio"]
    assert i2a.queries.tolist() == [0, 1] and i2a.gallery.tolist() == [2]
    assert [i2a.relevance.of(i).tolist() for i in range(2)] == [[0], []]  # crow has no sound
    t2i = dirs["text->image"]
    assert t2i.queries.tolist() == [3, 5]
    assert [t2i.relevance.of(i).tolist() for i in range(2)] == [[0], [1]]


def test_cli_retrieval_audio_dataset_with_hnsw(clotho_root, tmp_path):
    r = CliRunner().invoke(bench, ["retrieval", "--model", "tiny", "--dataset", "clotho", "--root",
                                   str(clotho_root), "--factory", "HNSW16", "--out", str(tmp_path / "o"),
                                   "--json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    dirs = {d["direction"] for d in rep["results"]["directions"]}
    assert dirs == {"text->audio", "audio->text"}
    assert rep["results"]["index"]["factory"] == "HNSW16"
    assert rep["results"]["skipped_count"] >= 2  # gone.wav + the empty caption
    assert (tmp_path / "o" / "retrieval_recall.png").exists()
    assert "text->audio" in (tmp_path / "o" / "summary.md").read_text()


def test_published_reference_lookup():
    ref = find_reference("openclip:ViT-B-32/laion2b_s34b_b79k", "flickr30k", "test")
    assert ref["results"]["text->image"] == {"R@1": 66.78, "R@5": 88.38, "R@10": 93.10}
    assert "open_clip" in ref["source"]
    assert find_reference("lite", "flickr30k", "test") is None
