"""The page's server side without a browser: thumbnails composited on white
(the encoders' decoding), the favicon, /docs with its assets served locally,
and the API-key login that gives a browser a session cookie."""
from __future__ import annotations

import io
import re

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from xmodal.alignment.core.errors import BadInput
from xmodal.search.login import COOKIE, safe_next, session_token
from xmodal.search.media import make_thumbnail

from page_fakes import page_app, transparent_png

KEY = "s3cret-key"


def corners(jpeg: bytes) -> list[tuple[int, int, int]]:
    img = Image.open(io.BytesIO(jpeg)).convert("RGB")
    w, h = img.size
    return [img.getpixel(p) for p in ((1, 1), (w - 2, 1), (1, h - 2), (w - 2, h - 2))]


def test_thumbnail_composites_transparency_on_white():
    thumb = make_thumbnail(transparent_png(), "t.png")
    for px in corners(thumb):
        assert min(px) >= 245, px  # white, not black and not the hidden green
    img = Image.open(io.BytesIO(thumb)).convert("RGB")
    r, g, b = img.getpixel((img.width // 2, img.height // 2))
    assert r > 180 and g < 80 and b < 80  # the opaque disc keeps its colour


def test_thumbnail_of_palette_transparency_and_junk():
    img = Image.new("P", (40, 40), 0)
    img.putpalette([0, 0, 0] + [200, 0, 0] * 255)
    img.info["transparency"] = 0
    buf = io.BytesIO()
    img.save(buf, "PNG", transparency=0)
    assert all(min(px) >= 245 for px in corners(make_thumbnail(buf.getvalue(), "p.png")))
    with pytest.raises(BadInput, match="n.png"):
        make_thumbnail(b"not an image", "n.png")


_app = page_app


def test_thumbnail_endpoint_is_white_where_transparent(tmp_path):
    with TestClient(_app(tmp_path), base_url="http://localhost") as c:
        r = c.get("/items/t.png/media?thumb=1")
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
        assert all(min(px) >= 245 for px in corners(r.content))


def test_favicon_and_offline_docs_assets(tmp_path):
    pytest.importorskip("fastapi_offline", reason="pip install fastapi-offline (a declared dependency)")
    with TestClient(_app(tmp_path), base_url="http://localhost") as c:
        icon = c.get("/favicon.svg")
        assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
        assert b"<svg" in icon.content and c.get("/favicon.ico").status_code == 200
        assert 'rel="icon" href="/favicon.svg"' in c.get("/").text
        for page in ("/docs", "/redoc"):
            html = c.get(page).text
            urls = re.findall(r'(?:src|href)=["\']([^"\']+)', html) + re.findall(r"url: *'([^']+)'", html)
            assert urls, html
            assert not [u for u in urls if u.startswith(("http:", "https:", "//"))], urls  # no CDN
            for url in urls:
                assert c.get(url).status_code == 200, url


# ---------------------------------------------------------------- login

def test_browser_visit_without_key_goes_to_login(tmp_path):
    with TestClient(_app(tmp_path, api_key=KEY), base_url="http://localhost", follow_redirects=False) as c:
        r = c.get("/?q=a%26b", headers={"accept": "text/html,application/xhtml+xml"})
        assert r.status_code == 303 and r.headers["location"] == "/login?next=%2F%3Fq%3Da%2526b"
        form = c.get(r.headers["location"])
        assert form.status_code == 200 and 'name="key"' in form.text and 'value="/?q=a%26b"' in form.text
        assert c.get("/health").status_code == 401  # API clients still get the JSON 401
        assert "/login" in c.get("/health").json()["detail"]


def test_login_sets_an_httponly_samesite_cookie_the_guard_accepts(tmp_path):
    with TestClient(_app(tmp_path, api_key=KEY), base_url="http://localhost", follow_redirects=False) as c:
        bad = c.post("/login", data={"key": "wrong", "next": "/?q=x"})
        assert bad.status_code == 401 and "not right" in bad.text and "set-cookie" not in bad.headers
        ok = c.post("/login", data={"key": KEY, "next": "/?q=a%26b"})
        assert ok.status_code == 303 and ok.headers["location"] == "/?q=a%26b"
        cookie = ok.headers["set-cookie"]
        assert f"{COOKIE}={session_token(KEY)}" in cookie and KEY not in cookie
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
        jar = {"cookie": f"{COOKIE}={session_token(KEY)}"}
        for url in ("/", "/health", "/items/t.png/media?thumb=1", "/static/app.js", "/docs", "/openapi.json"):
            assert c.get(url, headers=jar).status_code == 200, url
        assert c.post("/search", json={"text": "x"}, headers=jar).status_code == 200
        assert c.get("/health", headers={"cookie": f"{COOKIE}={session_token('other')}"}).status_code == 401
        assert c.get("/health", headers={"cookie": "junk=\"unterminated; ;;"}).status_code == 401
        out = c.post("/logout", headers=jar)
        assert out.status_code == 303 and "Max-Age=0" in out.headers["set-cookie"]


def test_login_json_and_limits(tmp_path):
    with TestClient(_app(tmp_path, api_key=KEY), base_url="http://localhost", follow_redirects=False) as c:
        assert c.post("/login", json={"key": KEY}).status_code == 204
        assert c.post("/login", json={"key": 5}).status_code == 401
        assert c.post("/login", content=b"{", headers={"content-type": "application/json"}).status_code == 401
        assert c.post("/login", content=b"k" * 5000).status_code == 413
        assert c.put("/login").status_code == 405 and c.get("/logout").status_code == 405
        assert c.get("/login", headers={"host": "evil.example"}).status_code == 400  # Host first
    with TestClient(_app(tmp_path / "open"), base_url="http://localhost") as c:
        assert c.get("/login").status_code == 404  # no key, no login


@pytest.mark.parametrize("given, kept", [("/", "/"), ("/?q=x", "/?q=x"), ("//evil.example/", "/"),
                                         ("/\\evil.example", "/"), ("https://evil.example", "/"), (None, "/")])
def test_login_only_returns_to_this_server(given, kept):
    assert safe_next(given) == kept
