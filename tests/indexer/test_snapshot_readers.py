"""Snapshot consistency (issue 15, failure 6): a reader keeps working on its
generation until it is reopened, however many updates are published
meanwhile; once no reader holds an old generation its deleted rows are
purged as before."""
from __future__ import annotations

import gc

import numpy as np

from xmodal.indexer import open_index
from xmodal.indexer.manifest import META_NAME
from xmodal.indexer.metadata import MetaStore
from xmodal.indexer.update import remove

from indexer_helpers import clustered, synthetic_index


def _all_rows(path):
    db = MetaStore(path / META_NAME, readonly=True)
    try:
        (n,) = db.db.execute("SELECT COUNT(*) FROM rows").fetchone()
    finally:
        db.close()
    return n


def test_a_reader_two_generations_behind_still_searches(tmp_path):
    x = clustered(200, 16)
    synthetic_index(tmp_path, x)
    old = open_index(tmp_path)
    remove(tmp_path, ["v3"])
    remove(tmp_path, ["v7", "v8"])
    scores, labels = old.search(x[[3, 7]], 5)
    rows = old.rows(labels[0])  # raised "unknown label(s)" before readers pinned their generation
    assert rows[0].id == "v3" and old.rows(labels[1])[0].id == "v7"
    np.testing.assert_allclose(old.vectors(labels[0][:1]), x[[3]], atol=1e-3)
    fresh = open_index(tmp_path)
    _, now = fresh.search(x[[3]], 5)
    assert "v3" not in [r.id for r in fresh.rows(now[0])]


def test_rows_are_purged_once_no_reader_holds_them(tmp_path):
    x = clustered(100, 16)
    synthetic_index(tmp_path, x)
    total = _all_rows(tmp_path)
    old = open_index(tmp_path)
    remove(tmp_path, ["v1"])
    remove(tmp_path, ["v2"])
    assert _all_rows(tmp_path) == total  # the pinned generation still sees both
    del old
    gc.collect()
    remove(tmp_path, ["v4"])
    assert _all_rows(tmp_path) < total  # nothing pins them now: purged as before


def test_a_reader_overtaken_before_its_pin_opens_the_newer_generation(tmp_path, monkeypatch):
    """The pin gap (issue 15 leftover): a reader reads manifest g, then two
    publishes purge rows g can return before it pins g. It must notice and
    open the published generation instead of a g whose rows are gone."""
    from xmodal.indexer import reader as reader_mod

    x = clustered(100, 16)
    synthetic_index(tmp_path, x)
    real_pin = reader_mod.pin
    calls = []

    def late_pin(path, generation):
        if not calls:  # the first open is overtaken by two publishes
            remove(tmp_path, ["v1"])
            remove(tmp_path, ["v2"])
        calls.append(generation)
        return real_pin(path, generation)

    monkeypatch.setattr(reader_mod, "pin", late_pin)
    ix = open_index(tmp_path)
    assert calls == [1, 3] and ix.generation == 3
    _, labels = ix.search(x[[5, 1]], 3)
    assert ix.rows(labels[0])[0].id == "v5"  # every label it returns has its row
    assert "v1" not in [r.id for r in ix.rows(labels[1][labels[1] >= 0])]
