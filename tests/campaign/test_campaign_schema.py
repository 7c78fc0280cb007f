"""schemathesis against the served OpenAPI schema (time-capped, unique
inputs, every case run even after a failure): 0 5xx, and every response
conforms to the schema (status declared, body and content type as
declared, 405s with Allow). Then hostile uploads through the same server:
the memory it reaches stays bounded."""
from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import sys

import httpx
import pytest
from PIL import Image

from campaign_jobs import Served, StatusCounter, copy_index

pytestmark = [pytest.mark.campaign, pytest.mark.slow]

MAX_SECONDS = 45
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_schema_conformance,response_headers_conformance,unsupported_method")


def _st() -> list[str]:
    exe = shutil.which("st", path=str(__import__("pathlib").Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "schemathesis.cli"]


def test_schemathesis_finds_no_5xx_and_no_schema_violation(world, tiny, figures, tmp_path):
    pytest.importorskip("schemathesis")
    from xmodal.search import Engine
    from xmodal.search.app import create_app
    from xmodal.search.guard import ServeOptions

    index = copy_index(world["start"]["remove"], tmp_path / "served")
    app = StatusCounter(create_app(Engine.open(str(index), encoder=tiny),
                                   options=ServeOptions(api_key="campaign-key")))
    with Served(app) as url:
        cmd = [*_st(), "run", f"{url}/openapi.json", "-H", "X-API-Key: campaign-key", "--checks", CHECKS,
               "--max-time", str(MAX_SECONDS), "--continue-on-failure", "--generation-unique-inputs",
               "--seed", "15", "--workers", "2", "--no-color", "--request-timeout", "30",
               "--generation-database", "none", "--report", "junit", "--report-dir", str(tmp_path / "st")]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=MAX_SECONDS + 240, cwd=tmp_path)
    figures["schemathesis"] = {"requests": app.total, "server_errors": app.server_errors,
                               "responses_by_code": app.codes, "max_seconds": MAX_SECONDS,
                               "exit_code": proc.returncode}
    tail = proc.stdout[-6000:] + proc.stderr[-2000:]
    assert app.total >= 30, tail  # a sanity floor: the figures say how many ran
    assert app.server_errors == 0, tail
    assert proc.returncode == 0, tail


def _png(w: int, h: int) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (30, 120, 200)).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


def test_hostile_uploads_stay_within_bounded_memory(world, forks, figures, tmp_path):
    """A served index in a forked server process (tiny stack preloaded):
    the 1,000,000 x 1 PNG that grew a server by ~5 GB, and its kin."""
    import campaign_jobs

    index = copy_index(world["start"]["remove"], tmp_path / "served")
    ready = tmp_path / "port"
    proc = forks.Process(target=campaign_jobs.serve_forever, args=(str(index), str(ready)))
    proc.start()
    try:
        port = campaign_jobs.wait_for_file(ready, 120)
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=url, timeout=120) as http:
            assert http.post("/search", json={"text": "warm up"}).status_code == 200
            before = campaign_jobs.rss_peak_mb(proc.pid)
            shapes = {"1000000x1": _png(1_000_000, 1), "1x1000000": _png(1, 1_000_000),
                      "5000x1": _png(5000, 1), "1x5000": _png(1, 5000)}
            codes = {}
            for name, data in shapes.items():
                for _ in range(3):
                    codes[name] = http.post("/search", json={"image_b64": data, "k": 3}).status_code
            after = campaign_jobs.rss_peak_mb(proc.pid)
    finally:
        campaign_jobs.stop(proc)
    figures["hostile_uploads"] = {"codes": codes, "server_peak_rss_mb_before": round(before),
                                  "server_peak_rss_mb_after": round(after),
                                  "growth_mb": round(after - before, 1)}
    assert all(c == 200 for c in codes.values()), codes
    assert after - before < 200, json.dumps(figures["hostile_uploads"])
