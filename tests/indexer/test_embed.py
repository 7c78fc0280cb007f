"""The embedding stage as a pure function."""
from __future__ import annotations

import numpy as np

from xmodal.alignment.core.items import Record
from xmodal.indexer.embed import embed_records


def test_embed_records_rows_order_and_skips(media_corpus, tiny):
    recs = [
        Record("a", "image", uri=str(media_corpus / "img0.png"), captions=["red", "", "blue"],
               metadata={"k": 1}),
        Record("t", "text", text="hello"),
        Record("e", "text", text="  "),
        Record("bad", "image", uri=str(media_corpus / "missing.png"), captions=["orphan"]),
    ]
    out = embed_records(recs, tiny)
    assert [(r.id, r.kind, r.parent_id) for r in out.rows] == [
        ("a", "item", None), ("a#caption0", "caption", "a"), ("a#caption2", "caption", "a"),
        ("t", "item", None)]
    assert out.rows[1].metadata == {"k": 1} and out.rows[2].text == "blue"
    reasons = {s["item"]: s["reason"] for s in out.skipped}
    assert reasons["a#caption1"] == "empty caption" and reasons["e"] == "empty text"
    assert "not found" in reasons[str(media_corpus / "missing.png")]
    assert reasons["bad#caption0"] == "its item was skipped"
    np.testing.assert_allclose(out.vectors[3], tiny.encode_text(["hello"])[0], atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(out.vectors, axis=1), 1.0, atol=1e-5)
    again = embed_records(recs, tiny)  # pure: same input, same output
    np.testing.assert_array_equal(out.vectors, again.vectors)
