"""Rich metadata filters (issue 19.3): the typed SQLite field index and the
legacy JSON scan give exactly what the reference semantics
(`alignment.core.where.matches`) give, on planted metadata; the CLI
grammar; unknown fields and wrong types are one-line errors."""
from __future__ import annotations

import random

import pytest

from xmodal.alignment.core.errors import XmodalError
from xmodal.alignment.core.items import NewRow
from xmodal.alignment.core.where import conditions, matches
from xmodal.indexer import fields
from xmodal.indexer.metadata import MetaStore
from xmodal.search.filters import parse_where


def _meta(i: int, rng: random.Random) -> dict:
    m = {"width": rng.choice([64, 128, 256, 512, 1024]), "seconds": round(rng.uniform(0, 6), 2),
         "license": rng.choice(["cc0", "by", "by-sa"]), "tags": rng.sample(["cat", "dog", "car", "red"], 2),
         "src": {"site": rng.choice(["a", "b"])}, "year": str(rng.choice([2019, 2020]))}
    if i % 4 == 0:
        m["caption"] = f"c{i}"
    if i % 7 == 0:
        del m["width"]
    return m


@pytest.fixture
def store(tmp_path):
    rng = random.Random(3)
    metas = [_meta(i, rng) for i in range(300)]
    db = MetaStore(tmp_path / "meta.sqlite")
    db.insert([NewRow(f"r{i}", "image", metadata=m, label=i, shard="s", shard_row=i) for i, m in enumerate(metas)], 1)
    db.mark_deleted([5, 6], 2)
    yield db, metas
    db.close()


FILTERS = [
    {"license": "cc0"}, {"license": ["cc0", "by"]}, {"license": {"not": "cc0"}},
    {"license": {"not": ["cc0", "by"]}}, {"width": {">=": 512}}, {"width": {">": 64, "<=": 256}},
    {"seconds": {"<": 3}}, {"seconds": {"<": 3}, "license": "by"}, {"caption": {"exists": True}},
    {"caption": {"exists": False}}, {"width": {"exists": False}, "license": {"not": "by"}},
    {"tags": "red"}, {"tags": ["cat", "car"]}, {"tags": {"not": "dog"}}, {"src.site": "b"},
    {"year": 2020}, {"width": 512}, {"width": "512"}, {"width": [64, 1024], "tags": "cat"},
]


@pytest.mark.parametrize("where", FILTERS)
def test_typed_index_equals_the_reference(store, where):
    db, metas = store
    got = db.labels_where(2, where=where).tolist()
    want = [i for i, m in enumerate(metas) if i not in (5, 6) and matches(m, conditions(where))]
    assert got == want


def test_legacy_database_scans_with_the_same_semantics(store):
    db, metas = store
    db.db.execute("PRAGMA user_version=0")  # as written before the field index existed
    assert not fields.has_fields(db.db)
    assert db.field_types()["width"] == "number"  # inferred from the rows
    for where in FILTERS:
        if "tags" in where:
            continue  # list fields are matched per element only by the typed index
        want = [i for i, m in enumerate(metas) if i not in (5, 6) and matches(m, conditions(where))]
        assert db.labels_where(2, where=where).tolist() == want, where


def test_a_writer_backfills_an_older_database(store, tmp_path):
    db, metas = store
    db.db.execute("DELETE FROM field_values")
    db.db.execute("PRAGMA user_version=0")
    db.db.commit()
    again = MetaStore(tmp_path / "meta.sqlite")  # a writer opens it: back-filled once
    assert fields.has_fields(again.db)
    want = [i for i, m in enumerate(metas) if i not in (5, 6) and matches(m, conditions({"tags": "red"}))]
    assert again.labels_where(2, where={"tags": "red"}).tolist() == want
    again.close()


def test_purge_and_rollback_drop_field_values(store):
    db, _ = store
    db.purge_deleted(2)
    db.rollback_after(1)
    (n,) = db.db.execute("SELECT COUNT(*) FROM field_values WHERE label IN (5, 6)").fetchone()
    assert n == 0


def test_unknown_field_and_wrong_type_are_one_line_errors(store):
    db, _ = store
    with pytest.raises(XmodalError, match=r"unknown filter field\(s\) widht: .*width"):
        db.labels_where(1, where={"widht": 3})
    with pytest.raises(XmodalError, match="license.*is a text field: ranges need a number field"):
        db.labels_where(1, where={"license": {">": 3}})
    with pytest.raises(XmodalError, match="unknown operator"):
        db.labels_where(1, where={"width": {"~": 3}})
    with pytest.raises(XmodalError, match="a range needs a number"):
        db.labels_where(1, where={"width": {">=": "big"}})


def test_cli_grammar():
    assert parse_where(["license=cc0"]) == {"license": "cc0"}
    assert parse_where(["width>=512", "width<1024"]) == {"width": {">=": 512, "<": 1024}}
    assert parse_where(["seconds<3"]) == {"seconds": {"<": 3}}
    assert parse_where(['license=["cc0","by"]']) == {"license": ["cc0", "by"]}
    assert parse_where(["license!=gpl"]) == {"license": {"!=": "gpl"}}
    assert parse_where(["caption:exists", "width:missing"]) == {"caption": {"exists": True},
                                                                  "width": {"exists": False}}
    assert parse_where(["note=a=b"]) == {"note": "a=b"}
    with pytest.raises(XmodalError, match="is not KEY=VALUE"):
        parse_where(["license"])


def test_the_in_memory_location_map_gives_the_stored_vectors(tmp_path, monkeypatch):
    import numpy as np

    from xmodal.indexer import open_index, reader as reader_mod

    from indexer_helpers import clustered, synthetic_index

    x = clustered(300, 8)
    synthetic_index(tmp_path, x)
    monkeypatch.setattr(reader_mod, "LOCATION_MAP_AFTER", 1)
    ix = open_index(tmp_path)
    labels = np.array([5, 299, 0, 5, 17])
    np.testing.assert_allclose(ix.vectors(labels), x[labels], atol=1e-6)
    assert ix._loc_map is not None  # the map answered
    with pytest.raises(XmodalError, match="no stored vector"):
        ix.vectors([10_000])
