"""ANN sweep: recall definition, selection, and a smoke run on tiny
synthetic vectors (library and CLI)."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from xmodal.alignment.core.errors import BadInput
from xmodal.benchmarks import ann, ann_peers
from xmodal.benchmarks.ann_bench import run_ann
from xmodal.benchmarks.ann_data import exact_topk, load_vectors
from xmodal.benchmarks.cli import bench
from xmodal.benchmarks.plots import pareto_front


def test_recall_at_matches_set_overlap():
    found = np.array([[1, 2, 3], [4, 5, 6]])
    truth = np.array([[3, 2, 9], [7, 8, 9]])
    assert ann.recall_at(found, truth, k=3) == pytest.approx((2 / 3 + 0) / 2)


def test_tie_aware_recall_counts_equally_near_duplicates():
    base = np.array([[1, 0], [1, 0], [0, 1], [0.6, 0.8]], dtype=np.float32)
    q = np.array([[1, 0]], dtype=np.float32)
    truth = np.array([[0, 1]])
    dup = np.array([[1, 3]])  # id 1 is an exact duplicate of truth's id 0; id 3 scores 0.6 < 1
    assert ann.recall_at(dup, truth, k=2) == 0.5
    assert ann.recall_ties(dup, truth, q, base, k=2) == 0.5  # 3 is a real miss
    assert ann.recall_ties(np.array([[1, 0]]), truth, q, base, k=2) == 1.0
    assert ann.recall_ties(np.array([[2, -1]]), truth, q, base, k=2) == 0.0


def test_synthetic_vectors_are_normalised_and_queries_held_out():
    vs = load_vectors("synthetic:500x8:3", n_queries=20)
    assert vs.base.shape == (500, 8) and vs.queries.shape == (20, 8)
    assert np.allclose(np.linalg.norm(vs.base, axis=1), 1, atol=1e-5)
    # no query is a database vector
    assert (vs.queries @ vs.base.T).max() < 1 - 1e-6
    with pytest.raises(BadInput):
        load_vectors("synthetic:12")


def test_exact_topk_is_brute_force():
    vs = load_vectors("synthetic:300x6", n_queries=7)
    want = np.argsort(-(vs.queries @ vs.base.T), axis=1)[:, :5]
    assert (exact_topk(vs.base, vs.queries, 5) == want).all()


def test_choose_picks_fastest_within_budget():
    pts = [{"name": "a", "recall@10": 0.99, "qps_batch": 10, "memory_bytes": 100},
           {"name": "b", "recall@10": 0.95, "qps_batch": 50, "memory_bytes": 100},
           {"name": "c", "recall@10": 0.999, "qps_batch": 99, "memory_bytes": 10_000},
           {"name": "d", "error": "boom"}]
    assert ann.choose(pts, 0.9, 1000)["name"] == "b"
    assert ann.choose(pts, 0.98, 1000)["name"] == "a"
    assert ann.choose(pts, 0.98, 100_000)["name"] == "c"
    assert ann.choose(pts, 0.9999, 100_000) is None
    front = pareto_front([p for p in pts if "error" not in p])
    assert [p["name"] for p in front] == ["c"]


def test_sweep_smoke_exactness_where_it_must_hold(tmp_path):
    grid = [ann.Family("Flat", "Flat"), ann.Family("HNSW", "HNSW16", [{"efSearch": 16}]),
            ann.Family("IVF-Flat", "IVF16,Flat", [{"nprobe": 1}, {"nprobe": 16}]),
            ann.Family("broken", "NotAFactory")]
    res, md = run_ann("synthetic:2000x16", [0.9], "64M", n_queries=50, autofaiss=False,
                      grid=grid, plot_dir=tmp_path, single_queries=10)
    by = {p["name"]: p for p in res["points"]}
    assert by["Flat"]["recall@10"] == 1.0
    assert by["IVF16,Flat nprobe=16"]["recall@10"] == 1.0  # every list probed = exact
    assert by["IVF16,Flat nprobe=1"]["recall@10"] < 1.0
    assert "error" in by["NotAFactory"]  # reported, the sweep went on
    auto = res["auto"]["xmodal@0.9"]
    assert auto.get("factory") == "Flat" and auto["recall@10"] == 1.0
    assert "not run" in res["auto"]["autofaiss"]["skipped"]
    assert (tmp_path / "ann_recall_vs_qps_batch.png").stat().st_size > 0
    assert "| Flat | 1.000 | 1.000 |" in md
    assert by["Flat"]["recall@10_ties"] == 1.0


def test_autofaiss_skipped_with_note_when_venv_absent(tmp_path, monkeypatch):
    monkeypatch.setattr(ann_peers, "AUTOFAISS_VENV", tmp_path / "nope")
    vs = load_vectors("synthetic:100x4", n_queries=5)
    out = ann_peers.autofaiss_choice(vs, exact_topk(vs.base, vs.queries, 10), "1G")
    assert "skipped" in out and "setup_autofaiss.sh" in out["skipped"]


def test_cli_ann_smoke_and_compare(tmp_path, monkeypatch):
    monkeypatch.setattr(ann, "default_grid", lambda n, d: [ann.Family("Flat", "Flat"),
                                                           ann.Family("IVF-Flat", "IVF8,Flat", [{"nprobe": 2}])])
    runner = CliRunner()
    out1 = tmp_path / "r1"
    r = runner.invoke(bench, ["ann", "--vectors", "synthetic:1000x8", "--recall", "0.9", "0.99",
                              "--queries", "30", "--single-queries", "10", "--no-autofaiss", "--out", str(out1),
                              "--json"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["params"]["recall"] == [0.9, 0.99]
    assert report["command"].startswith("xmodal bench ann --vectors synthetic:1000x8 --recall 0.9 --recall 0.99")
    assert report["environment"]["versions"]["faiss-cpu"]
    assert (out1 / "summary.md").exists() and (out1 / "report.json").exists()
    last = (out1 / "summary.md").read_text().splitlines()[-1]  # what ran, at which commit, under what load
    assert last.startswith(f"`{report['command']}` at ") and "load average (1/5/15 min) at the end" in last
    r2 = runner.invoke(bench, ["ann", "--vectors", "synthetic:1000x8", "--queries", "30", "--no-autofaiss",
                               "--single-queries", "10",
                               "--out", str(tmp_path / "r2"), "--compare", str(out1 / "report.json")])
    assert r2.exit_code == 0, r2.output
    assert "Compared with" in (tmp_path / "r2" / "summary.md").read_text()


def test_families_filter_and_auto_only_run(tmp_path):
    res, md = run_ann("synthetic:3000x16", [0.9], "64M", n_queries=20, autofaiss=False,
                      single_queries=5, families=[])
    assert res["points"] == []
    auto = res["auto"]["xmodal@0.9"]
    assert auto["factory"] == "Flat" and auto["recall@10"] == 1.0
    res2, _ = run_ann("synthetic:3000x16", [0.9], "64M", n_queries=20, autofaiss=False,
                      single_queries=5, families=["flat"])
    assert [p["name"] for p in res2["points"]] == ["Flat"]


def test_cli_bad_vectors_is_one_line_error(tmp_path):
    r = CliRunner().invoke(bench, ["ann", "--vectors", "synthetic:axb", "--out", str(tmp_path)])
    assert r.exit_code != 0 and isinstance(r.exception, BadInput)


def test_cli_ann_scale_measures_the_indexer_choice_beside_exact(tmp_path):
    r = CliRunner().invoke(bench, ["ann-scale", "--n", "3000", "--dim", "8", "--recall", "0.9", "--queries", "20",
                                   "--single-queries", "5", "--out", str(tmp_path / "o"), "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)["results"]
    assert res["n"] == 3000 and res["dim"] == 8 and [p["name"] for p in res["points"]] == ["Flat"]
    assert res["points"][0]["recall@10"] == 1.0  # exact search against its own ground truth
    assert set(res["auto"]) == {"xmodal@0.9", "autofaiss"} and "skipped" in res["auto"]["autofaiss"]
    assert res["auto"]["xmodal@0.9"]["recall@10"] >= 0.9 and res["process_max_rss_bytes"] > 0


def test_default_out_is_a_new_folder_under_the_cache(tmp_path, monkeypatch):
    from xmodal.benchmarks.report import default_out_dir

    monkeypatch.setenv("XMODAL_CACHE", str(tmp_path / "cache"))
    first, second = default_out_dir("ann", now=0), default_out_dir("ann", now=0)
    assert first == tmp_path / "cache" / "bench-runs" / "ann-19700101-000000"
    assert second.name == "ann-19700101-000000-2" and second.is_dir()
    r = CliRunner().invoke(bench, ["ann", "--vectors", "synthetic:500x8", "--queries", "10", "--single-queries", "2",
                                   "--families", "Flat", "--no-autofaiss", "--recall", "0.9"])
    assert r.exit_code == 0, r.output
    (run,) = [p for p in (tmp_path / "cache" / "bench-runs").iterdir() if not p.name.startswith("ann-1970")]
    assert (run / "report.json").is_file() and (run / "summary.md").is_file()
    assert f"report: {run / 'report.json'}" in r.stderr
    assert json.loads(r.stdout)["command"].endswith(f"--out {run}")  # piped: the report as one JSON line


def test_a_failed_run_leaves_no_empty_default_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XMODAL_CACHE", str(tmp_path / "cache"))
    r = CliRunner().invoke(bench, ["ann", "--vectors", "synthetic:axb"])
    assert r.exit_code != 0
    assert list((tmp_path / "cache" / "bench-runs").iterdir()) == []
