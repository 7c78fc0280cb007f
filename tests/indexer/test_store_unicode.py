"""Strings with no UTF-8 form (lone surrogates, as JSON "\\udfff" or file
names decoded with surrogateescape) reach the metadata store as filter
values and ids: refused with one line or not found, never a crash."""
from __future__ import annotations

import pytest

from xmodal.alignment.core.errors import XmodalError
from xmodal.indexer.metadata import MetaStore, NewRow

LONE = ["\udfff", "a\ud800b", "bad\udcff\udcfename.png"]


@pytest.fixture()
def store(tmp_path):
    db = MetaStore(tmp_path / "m.sqlite")
    db.insert([NewRow("a", "image", "item", None, "/x/a", None, {"license": "cc0", "tags": ["é"]}, label=0, shard="s", shard_row=0),
               NewRow("é☃", "text", "item", None, None, "snow", {"license": "by"}, label=1, shard="s", shard_row=1)], 1)
    yield db
    db.close()


@pytest.mark.parametrize("value", LONE)
def test_filter_value_with_a_lone_surrogate_is_one_clear_error(store, value):
    for where in ({"license": value}, {"license": ["cc0", value]}):
        with pytest.raises(XmodalError, match="not valid Unicode"):
            store.labels_where(1, where=where)


@pytest.mark.parametrize("value", LONE)
def test_id_with_a_lone_surrogate_is_not_found(store, value):
    assert store.label_of(value, 1) is None and store.label_of(value, None) is None
    assert store.live_labels([value, "a"]) == {"a": [0]}


def test_valid_non_ascii_still_matches(store):
    assert store.labels_where(1, where={"license": "by"}).tolist() == [1]
    assert store.label_of("é☃", 1) == 1
