"""The query-latency and server-load benchmarks: helpers on a stub engine
and a stub server (no timing asserts: only that they count and aggregate
correctly), and both `xmodal bench` commands end to end on a tiny index."""
import json
import socket
import threading
import time
from contextlib import contextmanager

import numpy as np
import pytest
from click.testing import CliRunner

from xmodal.alignment.core.errors import BadInput
from xmodal.alignment.core.items import Hit
from xmodal.benchmarks.cli import bench
from xmodal.benchmarks.query_latency import load_queries, measure, percentiles
from xmodal.benchmarks.server_load import run_load


class StubEngine:
    """Answers every query with k hits and reports fixed stage times."""

    def __init__(self):
        self.calls = 0

    def search(self, query, k=10, target=None, stages=None):
        self.calls += 1
        if stages is not None:
            stages.update(encode=0.002, search=0.001, metadata=0.0005)
        return [Hit(f"id{i}", 1.0 - i / 100, "image") for i in range(k)]


def test_percentiles_match_numpy():
    values = list(np.random.default_rng(0).exponential(5.0, 500))
    got = percentiles(values)
    assert got["p50"] == pytest.approx(np.percentile(values, 50), abs=1e-3)
    assert got["p99"] == pytest.approx(np.percentile(values, 99), abs=1e-3)
    assert got["max"] == pytest.approx(max(values), abs=1e-3)
    assert percentiles([]) == {}


def test_measure_counts_queries_and_stages():
    engine = StubEngine()
    out = measure(engine, ["a", "b", "c"], n=20, k=4, warmup=3)
    assert engine.calls == 1 + 3 + 20  # first (cold) + warm-up + timed
    assert out.queries == 20 and out.distinct_queries == 3 and out.mean_hits == 4
    assert out.stages_ms["encode"]["p50"] == pytest.approx(2.0)
    assert out.stages_ms["metadata"]["max"] == pytest.approx(0.5)
    assert set(out.stages_ms) == {"encode", "search", "metadata", "total"}


def test_load_queries_skips_blank_lines_and_refuses_an_empty_file(tmp_path):
    (tmp_path / "q.txt").write_text("a dog\n\n  a cat \n")
    assert load_queries(str(tmp_path / "q.txt")) == ["a dog", "a cat"]
    (tmp_path / "empty.txt").write_text("\n  \n")
    with pytest.raises(BadInput):
        load_queries(str(tmp_path / "empty.txt"))


@contextmanager
def stub_server(seen):
    """A loopback HTTP server whose /search records the query text."""
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/search")
    def search(body: dict):
        seen.append(body["text"])
        return {"hits": []}

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_load_run_respects_request_budget():
    seen = []
    with stub_server(seen) as url:
        out = run_load(url, clients=4, total=37, duration=60, queries=["x", "y"])
    assert out["requests"] == out["ok"] == 37 == len(seen)
    assert out["status_codes"] == {"200": 37}
    assert set(seen) == {"x", "y"}


def test_cli_server_load_against_a_url(tmp_path):
    seen = []
    (tmp_path / "q.txt").write_text("only this\n")
    with stub_server(seen) as url:
        r = CliRunner().invoke(bench, ["server-load", "--url", url, "-c", "2", "-n", "9", "--query-file",
                                       str(tmp_path / "q.txt"), "--out", str(tmp_path / "o"), "--json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["benchmark"] == "server-load" and rep["results"]["ok"] == 9
    assert len(seen) == 10 + 9 and set(seen) == {"only this"}  # 10 warm-up requests, then the budget
    assert rep["params"]["queries"] == 1 and "requests/s" in (tmp_path / "o" / "summary.md").read_text()


def test_cli_server_load_needs_exactly_one_target(tmp_path):
    r = CliRunner().invoke(bench, ["server-load", "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "exactly one of --url or --index" in r.output


@pytest.fixture(scope="module")
def caption_index(tmp_path_factory):
    """A real tiny index of a few captions, built by the indexer."""
    from xmodal.indexer.build import BuildConfig, build

    base = tmp_path_factory.mktemp("latency")
    rows = [{"id": f"t{i}", "text": f"caption number {i}"} for i in range(12)]
    (base / "c.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    build(BuildConfig([str(base / "c.jsonl")], str(base / "ix"), model="tiny", tune_queries=20), progress=False)
    return base / "ix"


def test_cli_query_latency_on_a_real_index(caption_index, tmp_path):
    r = CliRunner().invoke(bench, ["query-latency", str(caption_index), "-n", "6", "-k", "3", "--warmup", "1",
                                   "--threads", "0", "--out", str(tmp_path / "o"), "--json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    res = rep["results"]
    assert rep["command"].startswith(f"xmodal bench query-latency {caption_index} -n 6 -k 3")
    assert res["queries"] == 6 and res["mean_hits"] == 3 and res["index"]["counts"]
    assert res["stages_ms"]["total"]["p50"] >= res["stages_ms"]["encode"]["p50"] > 0
    assert "| total |" in (tmp_path / "o" / "summary.md").read_text()


@pytest.mark.slow
def test_cli_server_load_starts_and_stops_a_real_server(caption_index, tmp_path):
    r = CliRunner().invoke(bench, ["server-load", "--index", str(caption_index), "-c", "2", "-n", "8",
                                   "--target", "text", "--out", str(tmp_path / "o"), "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)["results"]
    assert res["server_started"] and res["ok"] == 8 and res["status_codes"] == {"200": 8}
