"""HTTP strictness (issue 15, failures 4, 7 and 8): a filter with a lone
surrogate over a real SQLite index is a 4xx, not a 500; `k` and booleans
take only their JSON types; the Host header is checked; an optional API key
guards every endpoint; responses show paths relative to the corpus root;
every error status is declared in the OpenAPI schema with the body it has;
a method a path does not take is a 405 with `Allow`."""
from __future__ import annotations

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from xmodal.alignment.core.items import Row
from xmodal.search import Engine
from xmodal.search.app import create_app

from search_fakes import FakeEncoder, FakeIndex, random_corpus
from search_index import build_from_vectors, shard_rows


def _post(client, body: dict, **kw):
    # json.dumps escapes lone surrogates as \udfff (httpx's own encoder would fail on them)
    return client.post("/search", content=json.dumps(body), headers={"content-type": "application/json"}, **kw)


@pytest.fixture(scope="module")
def real_index(tmp_path_factory):
    rows, vecs = random_corpus(n=30, captions=3, seed=5)
    return build_from_vectors(tmp_path_factory.mktemp("ix") / "real.xmodal", shard_rows(rows), vecs)


@pytest.fixture()
def real(real_index):
    engine = Engine.open(str(real_index), encoder=FakeEncoder())
    with TestClient(create_app(engine), base_url="http://localhost") as c:
        yield c


@pytest.mark.parametrize("body", [
    {"text": "a", "where": {"license": "\udfff"}},
    {"text": "a", "where": {"license": ["cc0", "\ud800x"]}},
    {"id": "\udfff"},
    {"id": "bad\udcff\udcfename.png"},
])
def test_lone_surrogates_over_a_real_index_are_4xx(real, body):
    r = _post(real, body)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert r.json()["detail"]


def test_real_index_still_filters_unicode(real):
    r = _post(real, {"text": "a", "where": {"license": "cc0"}, "k": 3})
    assert r.status_code == 200 and len(r.json()["hits"]) == 3


@pytest.mark.parametrize("extra", [
    {"k": "10"}, {"k": True}, {"k": 10.0}, {"k": [10]},
    {"rescore": "yes"}, {"rescore": 1}, {"rescore": "true"}, {"dedup": "0.9"}, {"embedding": [True] * 8},
])
def test_loose_coercion_is_refused(real, extra):
    body = {"text": "a", **extra} if "embedding" not in extra else extra
    r = _post(real, body)
    assert r.status_code == 422, r.text
    assert isinstance(r.json()["detail"], str)


def test_strict_types_still_take_their_own_json_types(real):
    assert _post(real, {"text": "a", "k": 4, "rescore": True, "dedup": 1}).status_code == 200
    assert _post(real, {"embedding": [1, 0, 0, 0, 0, 0, 0, 0.5], "k": 2}).status_code == 200


# ---------------------------------------------------------------- Host header

def _fake_app(tmp_path, **options):
    from xmodal.search.guard import ServeOptions

    root = tmp_path / "corpus"
    (root / "sub").mkdir(parents=True)
    Image.new("RGB", (8, 8), (1, 2, 3)).save(root / "sub" / "a.png")
    rows = [Row(label=0, id="sub/a.png", modality="image", uri=str(root / "sub" / "a.png"), metadata={"license": "cc0"}),
            Row(label=1, id="t", modality="text", text="hello")]
    ix = FakeIndex(rows, np.eye(2, 8, dtype=np.float32))
    engine = Engine.open([str(tmp_path / "idx" / "main.xmodal")], encoder=FakeEncoder(), opener=lambda p: ix)
    return create_app(engine, media_roots=[str(root)], options=ServeOptions(**options) if options else None), root


@pytest.mark.parametrize("host, ok", [
    ("localhost", True), ("localhost:8000", True), ("127.0.0.1:8000", True), ("[::1]:8000", True),
    ("evil.example", False), ("evil.example:8000", False), ("127.0.0.1.evil.example", False),
    ("localhost.evil.example", False), ("", False),
])
def test_host_header_allow_list_by_default(tmp_path, host, ok):
    app, _ = _fake_app(tmp_path)
    with TestClient(app, base_url="http://localhost") as c:
        for method, url in (("GET", "/health"), ("GET", "/"), ("GET", "/openapi.json"), ("POST", "/search")):
            r = c.request(method, url, headers={"host": host}, json={"text": "x"} if method == "POST" else None)
            if ok:
                assert r.status_code == 200, (host, url, r.text)
            else:
                assert r.status_code == 400 and "--allow-host" in r.json()["detail"], (host, url, r.text)


def test_allow_host_names_domains_and_wildcard_binds():
    from xmodal.search.guard import ServeOptions, host_allowed

    opts = ServeOptions.for_bind("0.0.0.0", ("search.lan", ".corp.example"))
    for host in ("search.lan:80", "a.corp.example", "corp.example", "192.168.1.7:8000", "[fe80::1]:80", "localhost"):
        assert host_allowed(opts, host), host
    for host in ("evil.example", "xcorp.example", "search.lan.evil", None):
        assert not host_allowed(opts, host), host
    bound = ServeOptions.for_bind("10.0.0.5")
    assert host_allowed(bound, "10.0.0.5:8000") and not host_allowed(bound, "10.0.0.6:8000")
    assert host_allowed(ServeOptions(allow_hosts=("*",)), "anything")


def test_serve_cli_passes_hosts_key_and_paths(monkeypatch, real_index):
    from click.testing import CliRunner

    from xmodal.search import cli as search_cli

    seen = {}
    monkeypatch.setattr("uvicorn.run", lambda app, host, port, log_level: seen.update(app=app))
    monkeypatch.setattr("xmodal.alignment.cli.root.set_threads", lambda n: None)
    real_open = Engine.open  # the CLI loads the index's encoder; the fake one stands in
    monkeypatch.setattr(Engine, "open", classmethod(lambda cls, paths, **kw: real_open(paths, encoder=FakeEncoder())))
    res = CliRunner().invoke(search_cli.serve, [str(real_index), "--host", "10.1.2.3", "--allow-host", "search.lan",
                                                "--api-key", "k1"])
    assert res.exit_code == 0, res.output
    c = TestClient(seen["app"], base_url="http://search.lan")
    assert c.get("/health").status_code == 401
    assert c.get("/health", headers={"x-api-key": "k1"}).status_code == 200
    assert c.get("/health", headers={"x-api-key": "k1", "host": "10.1.2.3:8000"}).status_code == 200
    assert c.get("/health", headers={"x-api-key": "k1", "host": "evil.example"}).status_code == 400
    res = CliRunner().invoke(search_cli.serve, [str(real_index), "--api-key", " "])
    assert res.exit_code == 2 and "--api-key" in res.output


# ---------------------------------------------------------------- API key

def test_api_key_guards_every_endpoint(tmp_path):
    app, _ = _fake_app(tmp_path, api_key="s3cret")
    urls = [("GET", "/"), ("GET", "/static/app.js"), ("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/health"),
            ("GET", "/metrics"), ("GET", "/indexes"), ("GET", "/items/t"), ("GET", "/items/sub/a.png/media"),
            ("POST", "/search"), ("GET", "/nowhere"), ("TRACE", "/search")]
    with TestClient(app, base_url="http://localhost") as c:
        for method, url in urls:
            body = {"text": "x"} if method == "POST" else None
            for headers in ({}, {"x-api-key": "wrong"}, {"authorization": "Bearer nope"}, {"x-api-key": ""}):
                r = c.request(method, url, headers=headers, json=body)
                assert r.status_code == 401, (method, url, headers, r.status_code)
                assert "X-API-Key" in r.json()["detail"]
            r = c.request(method, url, headers={"x-api-key": "s3cret"}, json=body)
            assert r.status_code != 401, (method, url)
            assert c.request(method, url, headers={"authorization": "Bearer s3cret"}, json=body).status_code != 401
        schema = c.get("/openapi.json", headers={"x-api-key": "s3cret"}).json()
        assert schema["components"]["securitySchemes"]["apiKey"] == {"type": "apiKey", "in": "header",
                                                                     "name": "X-API-Key"}
        assert schema["security"] == [{"apiKey": []}]


# ---------------------------------------------------------------- paths

def test_responses_show_paths_relative_to_the_corpus_root(tmp_path):
    app, root = _fake_app(tmp_path)
    with TestClient(app, base_url="http://localhost") as c:
        assert c.get("/indexes").json()[0]["path"] == "main.xmodal"
        assert c.get("/items/sub/a.png").json()["uri"] == "sub/a.png"
        hits = _post(c, {"text": "x", "k": 2}).json()["hits"]
        assert {h["uri"] for h in hits} == {"sub/a.png", None}
        assert str(tmp_path) not in c.get("/indexes").text + json.dumps(hits)
        assert c.get("/items/sub/a.png/media").status_code == 200  # still served from the real path
    app, root = _fake_app(tmp_path / "abs", absolute_paths=True)
    with TestClient(app, base_url="http://localhost") as c:
        assert c.get("/items/sub/a.png").json()["uri"] == str(root / "sub" / "a.png")
        assert c.get("/indexes").json()[0]["path"].startswith(str(tmp_path))


def test_relative_uri_rules(tmp_path):
    from xmodal.search.display import relative_uri

    (tmp_path / "c" / "d").mkdir(parents=True)
    shard = tmp_path / "c" / "s.tar"
    shard.write_bytes(b"")
    roots = [str(tmp_path / "c"), str(shard)]
    assert relative_uri(str(tmp_path / "c" / "d" / "x.png"), roots) == "d/x.png"
    assert relative_uri(f"{shard}::m/y.png", [str(shard)]) == "s.tar::m/y.png"
    assert relative_uri("/elsewhere/z.wav", roots) == "z.wav"
    assert relative_uri(None, roots) is None


# ---------------------------------------------------------------- API contract

def test_every_error_status_is_declared_with_its_body(real):
    schema = real.get("/openapi.json").json()
    error = {"$ref": "#/components/schemas/ErrorOut"}
    assert schema["components"]["schemas"]["ErrorOut"]["properties"]["detail"]["type"] == "string"
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            for code in ("400", "401", "413", "422", "500"):
                got = op["responses"].get(code, {}).get("content", {}).get("application/json", {}).get("schema")
                assert got == error, (method, path, code, op["responses"].get(code))
    media = schema["paths"]["/items/{item_id}/media"]["get"]["responses"]
    assert "403" in media and "404" in media
    assert "503" in schema["paths"]["/health"]["get"]["responses"]


@pytest.mark.parametrize("body", [{"text": "a", "k": 0}, {"text": 5}, {"text": "a", "bogus": 1}])
def test_422_bodies_match_the_declared_schema(real, body):
    r = _post(real, body)
    assert r.status_code == 422 and set(r.json()) == {"detail"} and isinstance(r.json()["detail"], str)


@pytest.mark.parametrize("url, allow", [
    ("/search", {"POST"}), ("/", {"GET"}), ("/health", {"GET"}),
    ("/static/app.js", {"GET", "HEAD"}), ("/items/x/media", {"GET"}),
])
def test_trace_and_other_methods_get_405_with_allow(real, url, allow):
    for method in ("TRACE", "DELETE", "PUT"):
        r = real.request(method, url)
        assert r.status_code == 405, (method, url, r.status_code)
        assert set(m.strip() for m in r.headers["allow"].split(",")) >= allow, r.headers
        assert r.json()["detail"]


def test_stored_strings_that_are_not_unicode_are_escaped_not_500(tmp_path):
    """A corpus sidecar may hold JSON "\\udfff": the metadata store keeps it,
    the response cannot be UTF-8 unless it is escaped."""
    rows = [Row(label=0, id="a", modality="image", uri="a.png", text="hi \udcff", metadata={"x": "\udfff", "\ud800k": ["\udcfe"]})]
    ix = FakeIndex(rows, np.eye(1, 8, dtype=np.float32))
    engine = Engine.open(["/x/m.xmodal"], encoder=FakeEncoder(), opener=lambda p: ix)
    with TestClient(create_app(engine), base_url="http://localhost") as c:
        for r in (c.get("/items/a"), _post(c, {"text": "x"})):
            assert r.status_code == 200, r.text
            hit = r.json() if "id" in r.json() else r.json()["hits"][0]
            assert hit["metadata"]["x"] == "\\udfff" and hit["metadata"]["text"] == "hi \\xff"
            assert hit["metadata"]["\\ud800k"] == ["\\xfe"]
