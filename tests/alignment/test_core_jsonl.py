"""The one JSON Lines reader and its bad-line policies, and the three
readers built on it keeping their own behaviour (raise / report / stream)."""
import pytest

from xmodal.alignment.core.errors import BadInput
from xmodal.alignment.core.jsonl import read_json_lines
from xmodal.alignment.data.pairs import read_pairs
from xmodal.alignment.train.data import read_jsonl as read_training
from xmodal.indexer.readers.base import Skipped
from xmodal.indexer.readers.manifests import read_jsonl as read_manifest

LINES = '{"id": "a"}\n\n{not json\n[1, 2]\n{"id": "b"}\n'


@pytest.fixture
def path(tmp_path):
    p = tmp_path / "f.jsonl"
    p.write_text(LINES)
    return p


def test_report_yields_every_non_blank_line_in_order(path):
    got = [(x.where, x.value, x.problem) for x in read_json_lines(path, "f", on_bad="report")]
    assert got == [("f:1", {"id": "a"}, None),
                   ("f:3", None, "invalid JSON (Expecting property name enclosed in double quotes)"),
                   ("f:4", [1, 2], None), ("f:5", {"id": "b"}, None)]
    objects = list(read_json_lines(path, "f", on_bad="report", objects=True))
    assert [(x.where, x.problem) for x in objects if not x.ok] == [
        ("f:3", "invalid JSON (Expecting property name enclosed in double quotes)"),
        ("f:4", "line is not a JSON object")]
    assert objects[1].skip_line().startswith("skipped f:3: invalid JSON")


def test_skip_drops_bad_lines(path):
    assert [x.value for x in read_json_lines(path, on_bad="skip", objects=True)] == [{"id": "a"}, {"id": "b"}]


def test_raise_names_the_first_bad_line_and_the_fix(path):
    with pytest.raises(BadInput, match=r"f.jsonl:3: invalid JSON .*\(fix it\)"):
        list(read_json_lines(path, on_bad="raise", hint="fix it"))
    with pytest.raises(ValueError):
        list(read_json_lines(path, on_bad="ignore"))


def test_corpus_pairs_raise_on_a_bad_line(path):
    with pytest.raises(BadInput, match="f.jsonl:1: missing field"):
        read_pairs(path)
    path.write_text("5\n")  # valid JSON, not an object: one line, not a traceback
    with pytest.raises(BadInput, match="f.jsonl:1: line is not a JSON object"):
        read_pairs(path)


def test_training_data_reports_bad_lines_as_skips(path, tmp_path):
    (tmp_path / "a.png").write_bytes(b"")
    path.write_text('{"id": "a", "captions": ["x"], "image": "a.png"}\n{oops\n[1]\n')
    items, skipped = read_training(path)
    assert [it.id for it in items] == ["a"]
    assert skipped[0].startswith("skipped f.jsonl:2: invalid JSON")
    assert skipped[1] == "skipped f.jsonl:3: not a JSON object"


def test_index_manifests_stream_bad_lines_as_skipped_entries(path):
    entries = list(read_manifest(path))
    bad = {e.item: e.reason for e in entries if isinstance(e, Skipped)}
    assert bad["f.jsonl:3"].startswith("invalid JSON")
    assert bad["f.jsonl:4"] == "line is not a JSON object"
