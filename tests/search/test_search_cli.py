"""`xmodal search` / `xmodal serve` through click's CliRunner over a real
`tiny` index."""
import json

import numpy as np
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from xmodal.search import cli as search_cli
from xmodal.search.output import hits_table


@pytest.fixture(autouse=True)
def _keep_thread_count(monkeypatch):
    """The commands set torch/FAISS to one thread; keep the test process as is."""
    monkeypatch.setattr("xmodal.search.cli.set_threads", lambda n: None)


def run(*args):
    return CliRunner().invoke(search_cli.search, [str(a) for a in args])


def test_text_query_json_lines_when_piped(tiny_index, tiny_stack):
    path, _root = tiny_index
    res = run(path, "a red circle", "-k", 4, "--target", "image")
    assert res.exit_code == 0, res.output
    lines = [json.loads(x) for x in res.stdout.splitlines()]
    assert [x["rank"] for x in lines] == [1, 2, 3, 4]
    assert all(x["modality"] == "image" for x in lines)
    # Same ranking as brute force over the stored item vectors.
    from xmodal.search import Engine

    ix = Engine.open(str(path)).sources[0].index
    labels = ix.labels_where(modality="image", kind="item")
    q = tiny_stack.encode_text(["a red circle"])[0]
    scores = ix.vectors(labels) @ q
    expect = [r.id for r in ix.rows(labels[np.argsort(-scores)][:4])]
    assert [x["id"] for x in lines] == expect


def test_image_audio_id_embedding_queries(tiny_index):
    path, root = tiny_index
    res = run(path, "--image", root / "img/red.png", "-k", 1, "--target", "image", "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["id"] == "img/red.png"  # itself first
    res = run(path, "--audio", root / "snd/low.wav", "-k", 1, "--target", "audio")
    assert res.exit_code == 0 and json.loads(res.stdout)["id"] == "snd/low.wav"
    res = run(path, "--id", "img/red.png", "-k", 3)
    ids = [json.loads(x)["id"] for x in res.stdout.splitlines()]
    assert res.exit_code == 0 and len(ids) == 3 and "img/red.png" not in ids
    res = run(path, "--embedding", json.dumps([0.1] * 32), "-k", 2)
    assert res.exit_code == 0 and len(res.stdout.splitlines()) == 2


def test_table_output(tiny_index):
    path, _ = tiny_index
    res = run(path, "beep", "--table", "-k", 3, "--where", "license=by")
    assert res.exit_code == 0
    lines = res.stdout.splitlines()
    assert lines[0].split()[:4] == ["#", "score", "modality", "id"]
    ranked = [line for line in lines[2:] if line.split() and line.split()[0].isdigit()]
    assert [line.split()[0] for line in ranked] == ["1", "2", "3"] and all("snd/" in line for line in ranked)


def test_exit_codes(tiny_index, tmp_path):
    path, root = tiny_index
    res = run(path, "x", "--where", "license=none-such")
    assert res.exit_code == 1 and res.stdout == "" and "no results" in res.stderr
    for args in [(path,), (path, "x", "--id", "y"), (path, "--id", "missing"), (path, "x", "-k", 0),
                 (tmp_path / "nope.xmodal", "x"), (path, "--embedding", "[1,2]"),
                 (path, "--embedding", "{oops"), (path, "x", "--where", "novalue"),
                 (path, "--image", root / "snd/low.wav")]:
        res = run(*args)
        assert res.exit_code == 2, (args, res.output)
        assert res.stderr.startswith("error: ") and len(res.stderr.strip().splitlines()) == 1
    res = run(path, "x", "--target", "video")  # click usage error: also 2
    assert res.exit_code == 2
    res = run(path, "x", "--where", "licence=cc0")  # a mistyped key: an error naming the known ones
    assert res.exit_code == 2 and "unknown filter field(s) licence" in res.stderr and "license" in res.stderr


def test_table_fits_the_width_and_never_cuts_a_name():
    from xmodal.alignment.core.items import Hit

    name = "folder/" + "a" * 200 + ".png"
    hits = [Hit(name, 0.5, "image", "/data/" + name, {"text": "line\nbreak " * 50})]
    out = hits_table(hits, width=80)
    assert all(len(line) <= 80 for line in out.splitlines())
    assert "\nbreak" not in out and "…" not in out
    assert out.count("a") >= 400  # the 200-letter id and uri wrapped over lines, whole


def test_serve_builds_the_app_and_runs_uvicorn(tiny_index, monkeypatch):
    path, root = tiny_index
    seen = {}

    def fake_run(app, host, port, log_level):
        seen.update(app=app, host=host, port=port)

    monkeypatch.setattr("uvicorn.run", fake_run)
    threads = []
    monkeypatch.setattr("xmodal.search.cli.set_threads", threads.append)
    res = CliRunner().invoke(search_cli.serve, [str(path), "--port", "8123"])
    assert res.exit_code == 0, res.output
    assert seen["host"] == "127.0.0.1" and seen["port"] == 8123
    assert threads == [1]  # one thread per query by default
    client = TestClient(seen["app"], base_url="http://localhost")
    assert client.post("/search", json={"text": "red", "k": 2}).status_code == 200
    # No --media-root: the corpus root comes from the index's build report.
    assert client.get("/items/img/red.png/media").status_code == 200
    assert client.get("/items/snd/low.wav/media").headers["content-type"].startswith("audio/")
    res = CliRunner().invoke(search_cli.serve, ["/no/such.xmodal"])
    assert res.exit_code == 2 and "error:" in res.stderr
