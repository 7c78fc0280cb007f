"""The query-latency and server-load benchmark helpers on a stub engine
(no timing asserts: only that they count and aggregate correctly)."""
import socket
import threading
import time

import numpy as np
import pytest

from xmodal.benchmarks.query_latency import measure, percentiles
from xmodal.benchmarks.server_load import run_load
from xmodal.search.hits import Hit


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
    assert out["queries"] == 20 and out["distinct_queries"] == 3 and out["mean_hits"] == 4
    assert out["stages_ms"]["encode"]["p50"] == pytest.approx(2.0)
    assert out["stages_ms"]["metadata"]["max"] == pytest.approx(0.5)
    assert set(out["stages_ms"]) == {"encode", "search", "metadata", "total"}


def test_load_run_respects_request_budget():
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()
    seen = []

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
        out = run_load(f"http://127.0.0.1:{port}", clients=4, total=37, duration=60, queries=["x", "y"])
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert out["requests"] == out["ok"] == 37 == len(seen)
    assert out["status_codes"] == {"200": 37}
    assert set(seen) == {"x", "y"}
