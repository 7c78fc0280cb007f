"""Safe index operations (issue 18.2) and damage reporting (18.3), through
the `xmodal index` / `xmodal search` CLIs on a real tiny-model index."""
from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from xmodal.alignment.core.errors import XmodalError
from xmodal.indexer.cli import index
from xmodal.indexer.manifest import read_manifest
from xmodal.indexer.reader import open_index
from xmodal.search import cli as search_cli

from indexer_helpers import make_images


def _run(*args):
    return CliRunner().invoke(index, [str(a) for a in args], catch_exceptions=True)


def _json(res):
    assert res.exit_code == 0, (res.output, res.exception)
    return json.loads(res.stdout.strip().splitlines()[-1])


def _error(res) -> str:
    """The one-line user error a command raised (the root CLI prints it, exit 2)."""
    assert isinstance(res.exception, XmodalError), (res.output, res.exception)
    msg = str(res.exception)
    assert "\n" not in msg
    return msg


def _build(corpus, out, *more):
    return _run("build", corpus, "--model", "tiny", "--out", out, "--quiet", "--memory", "64M", *more)


@pytest.fixture
def built(media_corpus, tmp_path, tiny):
    out = tmp_path / "my.xmodal"
    _json(_build(media_corpus, out))
    return out


def test_build_over_existing_refuses_other_corpus_unless_forced(built, media_corpus, tmp_path):
    other = tmp_path / "other"
    make_images(other, 3, seed=9, prefix="o")
    before = read_manifest(built)
    msg = _error(_build(other, built))
    assert "refusing to replace it" in msg and "--force" in msg and str(other) in msg
    assert read_manifest(built).generation == before.generation  # untouched
    forced = _json(_build(other, built, "--force"))
    assert forced["counts"]["image"] == 3 and forced["generation"] == before.generation + 1


def test_build_same_corpus_is_up_to_date_then_resumes_on_change(built, media_corpus):
    gen = read_manifest(built).generation
    again = _json(_build(media_corpus, built))
    assert again.get("up_to_date") is True and again["generation"] == gen
    assert read_manifest(built).generation == gen  # nothing published
    make_images(media_corpus, 1, seed=3, prefix="new")
    grown = _json(_build(media_corpus, built))
    assert "up_to_date" not in grown and grown["counts"]["image"] == 9


def test_build_refuses_a_foreign_non_empty_folder(media_corpus, tmp_path, tiny):
    out = tmp_path / "docs"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    assert "not an xmodal index" in _error(_build(media_corpus, out))
    assert (out / "thesis.tex").read_text() == "precious"


def test_snapshot_restore_round_trip(built):
    snap = _json(_run("snapshot", built, "v1", "--json"))
    assert snap["generation"] == read_manifest(built).generation
    assert "already names" in _error(_run("snapshot", built, "v1"))
    _json(_run("remove", built, "--ids", "img1.png,img2.png", "--json"))
    _json(_run("compact", built, "--json"))  # purges deleted rows: the snapshot's must survive
    listed = [json.loads(x) for x in _run("snapshots", built, "--json").stdout.splitlines()]
    assert [s["name"] for s in listed] == ["v1"]
    res = _json(_run("restore", built, "v1", "--json"))
    assert res["rows_restored"] == 4 and res["counts"] == snap["counts"] | {"deleted": 0}
    hits = _search(built, "--id", "img1.png", "-k", "20")
    assert hits.exit_code == 0 and "img2.png" in hits.stdout
    assert "no snapshot named 'nope'" in _error(_run("restore", built, "nope"))
    _json(_run("forget", built, "v1", "--json"))
    assert _json(_run("gc", built, "--json"))["snapshots"] == []


def test_add_outside_the_roots_gets_a_distinct_id_and_upsert_replaces_only_it(built, tmp_path):
    other = tmp_path / "elsewhere"
    make_images(other, 1, seed=11, prefix="img")  # other/img0.png: same name as the corpus's img0.png
    res = _json(_run("add", built, other / "img0.png", "--json"))
    assert res["added"] == 1 and res["replaced"] == 0
    ids = _ids(built)
    assert "img0.png" in ids and str((other / "img0.png").resolve()) in ids
    res = _json(_run("add", built, other / "img0.png", "--upsert", "--json"))
    assert res["replaced"] == 1 and _ids(built) == ids  # replaced itself, not the corpus's img0.png


def test_add_inside_the_root_upserts_the_indexed_item(built, media_corpus):
    res = _json(_run("add", built, media_corpus / "img4.png", "--upsert", "--json"))
    assert res["replaced"] == 1 and res["added"] == 1


def test_remove_unknown_id_is_an_error_and_publishes_nothing(built):
    gen = read_manifest(built).generation
    msg = _error(_run("remove", built, "--ids", "img1.png,nosuch"))
    assert "'nosuch'" in msg and "nothing was removed" in msg
    assert read_manifest(built).generation == gen
    assert "img1.png" in _ids(built)


def _search(index_dir, *args):
    return CliRunner().invoke(search_cli.search, [str(index_dir), *map(str, args)])


def _ids(index_dir) -> set[str]:
    """Ids of the live items (captions left out)."""
    with open_index(index_dir) as r:
        return {row.id for row in r.rows(r.labels_where(kind="item"))}


def test_damaged_index_verify_search_and_writes(built):
    _json(_run("snapshot", built, "good", "--json"))
    assert _run("info", built, "--verify", "--json").exit_code == 0
    shutil.rmtree(built / "shards")
    res = _run("info", built, "--verify", "--json")
    assert res.exit_code == 1 and "damaged" in res.stderr
    assert json.loads(res.stdout)["checksums"]
    for args in (["a caption"], ["--id", "img1.png"], ["a caption", "--rescore"], ["a caption", "--dedup", "0.9"]):
        res = _search(built, *args)
        assert res.exit_code == 2, (args, res.output)
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: index") and "is damaged" in lines[0]
        assert "Traceback" not in res.output
    gen = read_manifest(built).generation
    for cmd in (["add", built, built.parent / "corpus" / "img1.png"], ["remove", built, "--ids", "img1.png"]):
        msg = _error(_run(*cmd))
        assert "refused" in msg and "index restore" in msg
    assert read_manifest(built).generation == gen


def test_restore_repairs_a_missing_index_file(built):
    _json(_run("snapshot", built, "good", "--json"))
    (built / read_manifest(built).index_file).unlink()
    assert _search(built, "a caption").exit_code == 2
    _json(_run("restore", built, "good", "--json"))
    assert _run("info", built, "--verify", "--json").exit_code == 0
    assert _search(built, "a caption").exit_code == 0


def test_count_records_goes_through_the_same_confinement(tmp_path):
    """The progress total counts what the build will read: --allow-root too."""
    from xmodal.indexer.progress import count_records
    from xmodal.indexer.readers import Record, read_corpus

    corpus, outside = tmp_path / "corpus", tmp_path / "outside"
    make_images(corpus, 2)
    make_images(outside, 1, prefix="far")
    (corpus / "link.png").symlink_to(outside / "far0.png")
    assert count_records([str(corpus)]) == 2  # the link leaves the root: skipped
    allowed = count_records([str(corpus)], (), [str(outside)])
    read = sum(isinstance(e, Record) for e in read_corpus([str(corpus)], allow_roots=[str(outside)]))
    assert allowed == read == 3


def test_a_shard_collected_after_its_last_row_is_removed_is_not_damage(built, tmp_path):
    """The manifest lists the shards in use at its publish; the purge that
    follows may drop a shard whose rows are all deleted. That is collection,
    not damage: later writes and `info --verify` still accept the index."""
    other = tmp_path / "elsewhere"
    make_images(other, 1, seed=11, prefix="x")
    _json(_run("add", built, other / "x0.png", "--json"))  # one item, its own shard
    new_id = str((other / "x0.png").resolve())
    _json(_run("remove", built, "--ids", new_id, "--json"))
    _json(_run("remove", built, "--ids", "img1.png", "--json"))  # refused as 'damaged' before the fix
    assert _json(_run("info", built, "--verify", "--json"))["intact"] is True
    assert new_id not in _ids(built) and "img1.png" not in _ids(built)
