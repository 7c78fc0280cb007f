"""Every HTTP endpoint, including malformed and hostile requests, over a
fake in-memory index with real media files in a temporary corpus."""
import base64
import io
import os
import tarfile

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from xmodal.alignment.core.items import Row
from xmodal.search import Engine
from xmodal.search.app import create_app

from search_fakes import FakeEncoder, FakeIndex, random_corpus


@pytest.fixture()
def corpus(tmp_path):
    root = tmp_path / "corpus"
    root.mkdir()
    Image.new("RGB", (640, 480), (200, 30, 30)).save(root / "red.png")
    (root / "clip.wav").write_bytes(b"RIFF....WAVEfmt fake")
    inner = tmp_path / "inner.png"
    Image.new("RGB", (32, 32), (0, 0, 255)).save(inner)
    with tarfile.open(root / "shard.tar", "w") as tar:
        tar.add(inner, arcname="blue.png")
    secret = tmp_path / "secret.txt"
    secret.write_text("do not serve")
    os.symlink(secret, root / "escape.png")
    return root, secret


@pytest.fixture()
def client(corpus):
    root, secret = corpus
    rows, vecs = random_corpus(n=30)
    extra = [
        ("red", "image", "red.png"), ("wav", "audio", "clip.wav"), ("tarred", "image", "shard.tar::blue.png"),
        ("dotdot", "image", "../secret.txt"), ("abs", "image", str(secret)),
        ("link", "image", "escape.png"), ("gone", "image", "missing.png"),
        ("tardot", "image", "shard.tar::../x.png"), ("notimg", "audio", "clip.wav"),
        ("sub/dir id#1", "image", "red.png"),
    ]
    base = len(rows)
    for j, (id_, mod, uri) in enumerate(extra):
        rows.append(Row(label=base + j, id=id_, modality=mod, uri=uri, metadata={"license": "cc0"}))
    vecs = np.random.default_rng(3).standard_normal((len(rows), 8)).astype(np.float32)
    ix = FakeIndex(rows, vecs)
    engine = Engine.open(["/x/main.xmodal"], encoder=FakeEncoder(), opener=lambda p: ix)
    app = create_app(engine, media_roots=[str(root)])
    with TestClient(app, base_url="http://localhost") as c:
        yield c


def test_search_text_returns_hits_with_media_urls(client):
    r = client.post("/search", json={"text": "a red square", "k": 5, "target": "image"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["query"] == "text" and len(body["hits"]) == 5
    assert all(h["modality"] == "image" for h in body["hits"])
    assert all(h["media_url"].startswith("/items/") for h in body["hits"])
    ranked = [h["score"] for h in body["hits"]]
    assert ranked == sorted(ranked, reverse=True)


def test_search_by_id_embedding_where_and_dedup(client):
    r = client.post("/search", json={"id": "image0", "k": 3})
    assert r.status_code == 200 and "image0" not in [h["id"] for h in r.json()["hits"]]
    r = client.post("/search", json={"embedding": [0.1] * 8, "k": 4, "where": {"license": ["cc0", "by"]}})
    assert r.status_code == 200 and len(r.json()["hits"]) == 4
    r = client.post("/search", json={"text": "x", "k": 50, "target": "image", "where": {"n": 3}})
    assert [h["id"] for h in r.json()["hits"]] == ["image3"]
    r = client.post("/search", json={"text": "x", "k": 5, "dedup": 0.9, "rescore": True})
    assert r.status_code == 200 and len(r.json()["hits"]) == 5


@pytest.mark.parametrize("body, code", [
    ({}, 400),                                        # no query field
    ({"text": "a", "id": "b"}, 400),                  # two query fields
    ({"text": ""}, 400),
    ({"text": "a", "k": 0}, 422),
    ({"text": "a", "k": 100000}, 422),
    ({"text": "a", "k": "ten"}, 422),
    ({"text": "a", "target": "video"}, 422),
    ({"text": "a", "dedup": 2}, 422),
    ({"text": "a", "where": {"x": {"nested": 1}}}, 400),  # an operator object with an unknown operator
    ({"text": "a", "where": {"bad key;--": 1}}, 400),  # odd field names are refused when the options are made
    ({"text": "a", "where": "license=cc0"}, 422),
    ({"text": ["a"]}, 422),
    ({"text": "a" * 5000}, 422),
    ({"text": "a", "surprise": 1}, 422),
    ({"embedding": [1, 2]}, 400),
    ({"embedding": ["a"] * 8}, 422),
    ({"embedding": [0] * 8}, 400),
    ({"id": "no-such-item"}, 400),
    ({"image_b64": "not base64!!"}, 400),
    ({"image_b64": base64.b64encode(b"not an image").decode()}, 400),  # fake encoder: no image tower
    ({"audio_b64": ""}, 400),
])
def test_malformed_search_bodies_are_4xx_with_a_message(client, body, code):
    r = client.post("/search", json=body)
    assert r.status_code == code, r.text
    assert isinstance(r.json()["detail"], str) and r.json()["detail"]


@pytest.mark.parametrize("raw, ctype", [
    (b"{not json", "application/json"),
    (b"[1,2,3]", "application/json"),
    (b"null", "application/json"),
    (b'{"text": "a", "embedding": [NaN]}', "application/json"),
    (b'{"embedding": [NaN, 1, 1, 1, 1, 1, 1, 1]}', "application/json"),
    (b'{"embedding": [1e999, 1, 1, 1, 1, 1, 1, 1]}', "application/json"),
    (b"\xff\xfe\x00garbage", "application/json"),
    (b"text=hello", "application/x-www-form-urlencoded"),
    (b'{"text": "a"}', "text/plain"),
    (b"[" * 5000 + b"]" * 5000, "application/json"),
])
def test_hostile_raw_bodies_never_500(client, raw, ctype):
    r = client.post("/search", content=raw, headers={"content-type": ctype})
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert r.json()["detail"]


def test_malformed_json_names_line_and_column(client):
    r = client.post("/search", content=b'{"text": "a",\n  "k": oops}', headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["detail"].startswith("body is not valid JSON at line 2 column 8")


def test_unknown_filter_field_is_a_json_error_naming_the_known_ones(client):
    r = client.post("/search", json={"text": "a", "where": {"licence": "cc0"}})
    assert 400 <= r.status_code < 500 and "unknown filter field(s) licence" in r.json()["detail"]
    r = client.post("/search", json={"text": "a", "where": {"n": {">=": 1, "<": 3}}})
    assert r.status_code == 200


def test_oversize_body_is_413(client):
    big = base64.b64encode(b"\0" * (13 << 20)).decode()
    r = client.post("/search", json={"image_b64": big})
    assert r.status_code == 413


def test_items_metadata_and_unknown(client):
    r = client.get("/items/red")
    assert r.status_code == 200 and r.json()["modality"] == "image"
    assert r.json()["metadata"]["license"] == "cc0"
    r = client.get("/items/sub/dir%20id%231")  # ids with slashes and '#'
    assert r.status_code == 200 and r.json()["id"] == "sub/dir id#1"
    assert client.get("/items/nope").status_code == 404
    assert client.get("/items/red?index=other").status_code == 404


def test_media_file_thumbnail_and_tar_member(client):
    r = client.get("/items/red/media")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(r.content)).size == (640, 480)
    assert "sandbox" in r.headers["content-security-policy"]
    r = client.get("/items/red/media?thumb=1")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert max(Image.open(io.BytesIO(r.content)).size) == 256
    r = client.get("/items/tarred/media")
    assert r.status_code == 200 and Image.open(io.BytesIO(r.content)).getpixel((0, 0)) == (0, 0, 255)
    r = client.get("/items/wav/media")
    assert r.status_code == 200 and r.content.startswith(b"RIFF")
    assert client.get("/items/notimg/media?thumb=1").status_code == 400
    assert client.get("/items/text2/media").status_code == 404  # a text has no media


@pytest.mark.parametrize("item, code", [
    ("dotdot", 403), ("abs", 403), ("link", 403), ("tardot", 403), ("gone", 404),
])
def test_media_outside_the_corpus_is_refused(client, item, code):
    r = client.get(f"/items/{item}/media")
    assert r.status_code == code, r.text
    assert b"do not serve" not in r.content


def test_path_traversal_in_the_url_does_not_reach_files(client):
    for url in ["/items/../../etc/passwd/media", "/items/%2e%2e/%2e%2e/etc/passwd/media",
                "/static/../app.py", "/static/%2e%2e/app.py"]:
        r = client.get(url)
        assert r.status_code in (400, 403, 404), url
        assert b"root:" not in r.content and b"create_app" not in r.content


def test_indexes_health_metrics_openapi_and_page(client):
    assert client.get("/indexes").json()[0]["name"] == "main"
    assert client.get("/health").json()["status"] == "ok"
    client.post("/search", json={"text": "a"})
    client.post("/search", json={"text": "a", "where": {"n": -5}})  # no results
    client.post("/search", json={"k": 0})
    text = client.get("/metrics").text
    assert 'xmodal_queries_total{status="ok"} 1' in text
    assert 'xmodal_queries_total{status="no_results"} 1' in text
    assert 'xmodal_queries_total{status="bad_request"} 1' in text
    assert 'xmodal_query_seconds_bucket{le="+Inf"} 2' in text
    assert "xmodal_query_seconds_count 2" in text
    assert "xmodal_encoded_queries_total 2" in text  # the rejected query never reached the encoder
    assert 'route="/search",code="200"' in text
    assert "/search" in client.get("/openapi.json").json()["paths"]
    page = client.get("/")
    assert page.status_code == 200 and "<html" in page.text.lower()


def test_random_hostile_bodies_never_500(client):
    """Seeded fuzz: every field gets values of random JSON types."""
    rng = np.random.default_rng(11)
    pool = [None, True, -1, 0, 3, 10**12, 1.5, float("inf"), "", "x", "image", "../../etc/passwd",
            "\u0000", "A" * 3000, [], [1, 2], ["a"], {}, {"a": 1}, {"license": [None, 1]}, [[[]]]]
    fields = ["text", "image_b64", "audio_b64", "embedding", "id", "k", "target", "where", "dedup",
              "rescore", "bogus"]
    for _ in range(150):
        chosen = rng.choice(fields, size=rng.integers(0, 5), replace=False)
        body = {f: pool[rng.integers(len(pool))] for f in chosen}
        r = client.post("/search", content=__import__("json").dumps(body, allow_nan=True),
                        headers={"content-type": "application/json"})
        assert r.status_code < 500, (body, r.text)
        if r.status_code >= 400:
            assert r.json()["detail"]


def test_index_rebuilt_by_another_encoder_is_refused_not_served():
    rows, vecs = random_corpus(n=12)
    old = FakeIndex(rows, vecs)
    table = {"/x/a.xmodal": old}
    engine = Engine.open(["/x/a.xmodal"], encoder=FakeEncoder(), opener=table.__getitem__)
    c = TestClient(create_app(engine), base_url="http://localhost")
    assert c.get("/health").json()["status"] == "ok"
    from search_fakes import FakeManifest

    table["/x/a.xmodal"] = FakeIndex(rows, vecs, FakeManifest(encoder_fingerprint="fp-9", generation=2))
    old.stale = True
    r = c.get("/health")
    assert r.status_code == 503 and "degraded" in r.json()["status"]
    r = c.post("/search", json={"text": "a"})
    assert r.status_code == 422 and "index built by" in r.json()["detail"]


@pytest.mark.parametrize("url", [
    "/items/%00", "/items/%00/media", "/items/" + "a" * 20000, "/items/red/media?thumb=maybe",
    "/items/red/media?index=%00", "/items/red?index=" + "b" * 5000, "/items/%ff%fe/media",
    "/items/red/media/../../../etc/passwd", "/indexes?x=%00", "/metrics/..%2f..%2fetc/passwd",
])
def test_hostile_gets_never_500(client, url):
    r = client.get(url)
    assert r.status_code < 500, (url, r.status_code, r.text[:200])
    assert b"root:" not in r.content
