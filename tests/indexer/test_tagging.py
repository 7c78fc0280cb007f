"""Tagging an index: planted classes come back as tags, a new generation
that older readers do not see, filterable with where tag=..., idempotent on
rerun, undone by restoring the previous generation's metadata; and the
`xmodal tag` / `xmodal search --where tag=` round trip on a tiny-model index."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from xmodal.alignment.core.contracts import EncodeResult, l2_normalise
from xmodal.alignment.core.errors import XmodalError
from xmodal.alignment.zeroshot import build_classifier
from xmodal.indexer import open_index
from xmodal.indexer.indexing import IndexOptions
from xmodal.indexer.tagging import TagOptions, tag_index, untag_index
from xmodal.indexer.update import remove
from xmodal.search.filters import allowed_labels

from indexer_helpers import synthetic_index

LABELS = ["vehicle", "animal", "plant", "tool", "food"]


class PlantedText:
    """Text tower of the synthetic index's space: a prompt maps to the
    planted prototype of the label it names."""

    def __init__(self, protos: np.ndarray):
        self.protos = protos
        self.spec, self.fingerprint, self.aligned, self.modalities = "synthetic", "synthetic", True, ["text"]
        self.dim = protos.shape[1]

    def embed(self, modality, items, batch_size=32, workers=1, names=None, on_batch=None):
        rows = [self.protos[next(i for i, lb in enumerate(LABELS) if lb in t)] for t in items]
        return EncodeResult(np.array(rows, np.float32), list(range(len(items))), [])


@pytest.fixture
def planted(tmp_path):
    rng = np.random.default_rng(3)
    protos = l2_normalise(rng.standard_normal((len(LABELS), 16)))
    truth = rng.integers(0, len(LABELS), 300)
    vecs = l2_normalise(protos[truth] + 0.25 * rng.standard_normal((300, 16)))
    return tmp_path / "ix", protos, truth, vecs


def _meta_by_id(ix):
    labels = ix.labels_where()
    return {r.id: r.metadata for r in ix.rows(labels)}


@pytest.mark.parametrize("factory", ["Flat", "HNSW16"])
def test_tags_round_trip_filter_and_undo(planted, factory):
    out, protos, truth, vecs = planted
    synthetic_index(out, vecs, IndexOptions(factory=factory, tune_queries=50))
    stack = PlantedText(protos)
    before = open_index(out)
    original = _meta_by_id(before)
    res = tag_index(out, TagOptions(LABELS, top=2), stack=stack)
    assert res.generation == 2 and res.items == 300 and res.changed == 300
    # brute force: each stored vector's best prototype (the classifier's own prompts)
    clf = build_classifier(stack, LABELS, "image")
    stored = before.vectors(before.labels_where())
    want = {r.id: LABELS[int(np.argmax(clf.scores(v[None])[0]))] for r, v in
            zip(before.rows(before.labels_where()), stored)}
    after = open_index(out)
    tagged = _meta_by_id(after)
    assert {i: m["tag"] for i, m in tagged.items()} == want
    assert np.mean([tagged[f"v{i}"]["tag"] == LABELS[t] for i, t in enumerate(truth)]) > 0.97
    assert all(len(m["tag_top"]) == 2 and m["parity"] == original[i]["parity"] for i, m in tagged.items())
    assert _meta_by_id(before) == original  # the pinned reader still sees generation 1
    # search with where tag=vehicle: only vehicle items, all of them reachable
    allowed = allowed_labels(after, "image", {"tag": "vehicle"})
    assert sorted(r.id for r in after.rows(allowed)) == sorted(i for i, t in want.items() if t == "vehicle")
    _, found = after.search(protos[:1], 10, labels=allowed)
    assert all(after.rows([x])[0].metadata["tag"] == "vehicle" for x in found[0] if x >= 0)
    # a rerun with the same labels changes nothing and publishes nothing
    again = tag_index(out, TagOptions(LABELS, top=2), stack=stack)
    assert again.generation == 2 and again.changed == 0 and again.unchanged == 300
    undone = untag_index(out)
    assert undone.generation == 3 and undone.changed == 300
    restored = open_index(out)
    assert _meta_by_id(restored) == original
    assert len(allowed_labels(restored, "image", {"tag": "vehicle"})) == 0
    with pytest.raises(XmodalError, match="not a tagging run"):
        untag_index(out)


def test_min_score_leaves_items_untagged_and_undo_needs_the_latest_generation(planted):
    out, protos, truth, vecs = planted
    synthetic_index(out, vecs, IndexOptions(factory="Flat", tune_queries=50))
    stack = PlantedText(protos)
    res = tag_index(out, TagOptions(LABELS, min_score=2.0), stack=stack)  # cosine never reaches 2
    assert res.untagged == 300 and res.changed == 0 and res.generation == 1
    tag_index(out, TagOptions(LABELS), stack=stack)
    remove(out, ["v0"])
    with pytest.raises(XmodalError, match="generation 3 is not a tagging run.*made generation 2"):
        untag_index(out)


def test_cli_tag_search_where_and_undo(media_corpus, tmp_path, tiny):
    from xmodal.alignment.cli.root import cli
    from xmodal.indexer.build import BuildConfig, build

    (media_corpus / "img3.json").unlink()  # its own 'tags' field is fine, but keep the corpus plain
    out = tmp_path / "ix"
    build(BuildConfig([str(media_corpus)], str(out), model="tiny"), stack=tiny, progress=False)
    run = CliRunner()
    res = run.invoke(cli, ["tag", str(out), "--labels", "vehicle,animal,music", "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["generation"] == 2 and report["items"] == 10  # 8 images + 2 sounds; the text note is not tagged
    ix = open_index(out)
    rows = [r for r in ix.rows(ix.labels_where()) if r is not None]
    some = next(r.metadata["tag"] for r in rows if r.kind == "item" and r.modality == "image")
    for r in rows:  # captions carry their item's tag
        if r.kind == "caption":
            item = next(x for x in rows if x.id == r.parent_id)
            assert r.metadata["tag"] == item.metadata["tag"]
    hits = run.invoke(cli, ["search", str(out), "a picture", "--where", f"tag={some}", "-k", "20", "--json"])
    assert hits.exit_code == 0, hits.output
    got = [json.loads(line) for line in hits.stdout.splitlines()]
    assert got and all(h["metadata"]["tag"] == some for h in got)
    assert run.invoke(cli, ["tag", str(out), "--undo", "--json"]).exit_code == 0
    empty = run.invoke(cli, ["search", str(out), "a picture", "--where", f"tag={some}", "--json"])
    assert empty.exit_code == 1 and empty.stdout == "" and "no results" in empty.stderr
    again = run.invoke(cli, ["tag", str(out), "--undo"])  # `main` turns this into one line, exit 2
    assert isinstance(again.exception, XmodalError) and "not a tagging run" in str(again.exception)


def test_an_items_own_tag_field_is_refused(media_corpus, tmp_path, tiny):
    from xmodal.indexer.build import BuildConfig, build

    (media_corpus / "img3.json").write_text(json.dumps({"tag": "mine"}))
    out = tmp_path / "ix"
    build(BuildConfig([str(media_corpus)], str(out), model="tiny"), stack=tiny, progress=False)
    with pytest.raises(XmodalError, match="img3.png.*'tag' field"):
        tag_index(out, TagOptions(["a", "b"]), stack=tiny)
    assert open_index(out).generation == 1
