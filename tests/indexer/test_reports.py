"""Typed manifest stats and build/update reports write the JSON they
always wrote, and read back what older (or newer) writers left."""
from __future__ import annotations

import json

from xmodal.indexer.manifest import IndexManifest, IndexStats, publish_manifest, read_manifest
from xmodal.indexer.reports import AddResult, BuildReport, EmbedStats, RemoveResult


def test_stats_round_trip_keeps_unknown_and_null_keys(tmp_path):
    stored = {"family": "hnsw", "memory_budget": 2 << 30, "recall_at_10": 0.97, "corpus_roots": ["/c"],
              "tune_trials": [{"efSearch": 16, "recall_at_10": 0.9}], "fallback": None,
              "from_a_newer_writer": {"x": 1}}
    stats = IndexStats.from_json(stored)
    assert (stats.family, stats.memory_budget, stats.corpus_roots, stats.fallback) == ("hnsw", 2 << 30, ["/c"], None)
    assert stats.to_json() == stored
    assert stats.merged({"updated": 5.0, "family": "flat"}).to_json() == {**stored, "updated": 5.0, "family": "flat"}
    m = IndexManifest("tiny", "abc", 32, "Flat", "index.1.faiss", stats=stats)
    publish_manifest(tmp_path, m)
    assert json.loads((tmp_path / "manifest.json").read_text())["stats"] == stored
    assert read_manifest(tmp_path) == m


def test_an_old_manifest_without_stats_opens(tmp_path):
    data = {"encoder_spec": "tiny", "encoder_fingerprint": "abc", "dim": 32, "factory": "Flat",
            "index_file": "index.1.faiss", "format_version": 1}
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    m = read_manifest(tmp_path)
    assert m.stats == IndexStats() and m.stats.corpus_roots is None


def test_report_dicts_have_the_keys_the_cli_and_build_report_always_had():
    embed = EmbedStats(3, 1, 0, 0.5, 3, 6.0)
    skipped = [{"item": "a.png", "reason": "unreadable: nope", "stage": "read"}]
    failed = BuildReport(["c"], "tiny", "fp", {"text": "torch"}, skipped, embed, error="nothing to index")
    assert set(failed.to_dict()) == {"corpus", "model", "encoder_fingerprint", "encoder_backend", "skipped", "skipped_count",
                                     "skipped_by_reason", "records", "shards", "shards_reused", "embed_seconds",
                                     "records_embedded", "records_per_second", "embedded_on", "error"}
    done = BuildReport(["c"], "tiny", "fp", {}, skipped, embed, generation=1, factory="Flat", search_params={},
                       counts={"total": 2}, index_stats=IndexStats(family="flat", tune_trials=[{}]),
                       total_seconds=1.0)
    d = done.to_dict()
    assert d["skipped_by_reason"] == {"unreadable": 1} and d["index_stats"] == {"family": "flat"}
    assert "error" not in d and d["generation"] == 1
    add = AddResult(2, {"total": 4}, added=1, skipped=skipped, embed=embed).to_dict()
    assert "hint" not in add and add["skipped_by_reason"] == {"unreadable": 1} and add["records"] == 3
    assert RemoveResult(3, {}, "run compact", removed=1).to_dict() == {
        "generation": 3, "counts": {}, "hint": "run compact", "removed": 1, "vectors_removed": 0, "not_found": []}
