"""Logging a browser in when the server has an API key.

A browser cannot add the X-API-Key header to the page, its scripts, its
`<img>` thumbnails or its `<audio>` sources, so the page would be unusable
behind a key. `/login` asks for the key once (a plain HTML form, no
script) and, when it is right, sets an HttpOnly, SameSite=Strict cookie
holding a token derived from the key; the guard (`search/guard.py`)
accepts that cookie wherever it accepts the header. `/logout` clears it.

This module only decides what to answer (status, headers, body); the
guard, which already sees every request first, does the ASGI I/O.
"""
from __future__ import annotations

import hashlib
import hmac
import html
import json
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qs, quote

LOGIN_PATH = "/login"
LOGOUT_PATH = "/logout"
COOKIE = "xmodal_session"
MAX_LOGIN_BODY = 4096


@dataclass(frozen=True)
class Reply:
    """One HTTP answer: status, extra headers, body and its media type."""

    status: int
    body: bytes = b""
    media_type: str = "application/json"
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


def session_token(api_key: str) -> str:
    """What the cookie holds: a keyed hash of the API key, so the cookie
    jar never stores the key itself (rotating the key logs everyone out)."""
    return hmac.new(api_key.encode(), b"xmodal page session v1", hashlib.sha256).hexdigest()


def cookie_ok(api_key: str, cookie_header: str | None) -> bool:
    """Does the Cookie header carry this key's session token?"""
    if not cookie_header:
        return False
    try:
        jar = SimpleCookie(cookie_header)
    except CookieError:
        return False
    morsel = jar.get(COOKIE)
    return morsel is not None and hmac.compare_digest(morsel.value.encode(), session_token(api_key).encode())


def safe_next(target: str | None) -> str:
    """Only a path on this server ("/..." but not "//host" or "/\\host"):
    a login link must not send the browser elsewhere."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


def answer(method: str, content_type: str, body: bytes, query: str, api_key: str) -> Reply:
    """The reply to a request for LOGIN_PATH (GET: the form; POST: check
    the key from a form or a JSON body `{"key": ...}`)."""
    nxt = safe_next((parse_qs(query).get("next") or ["/"])[0])
    if method in ("GET", "HEAD"):
        return _form(nxt, 200)
    if method != "POST":
        return Reply(405, json.dumps({"detail": f"{method} is not allowed on {LOGIN_PATH}"}).encode(),
                     headers=[(b"allow", b"GET, HEAD, POST")])
    wants_json = content_type.split(";")[0].strip().lower() == "application/json"
    given, nxt = _read_key(body, wants_json, nxt)
    if given is None or not hmac.compare_digest(given.encode(), api_key.encode()):
        if wants_json:
            return Reply(401, json.dumps({"detail": "wrong API key"}).encode())
        return _form(nxt, 401, "That key is not right.")
    cookie = (f"{COOKIE}={session_token(api_key)}; HttpOnly; SameSite=Strict; Path=/").encode()
    if wants_json:
        return Reply(204, headers=[(b"set-cookie", cookie)])
    return Reply(303, headers=[(b"set-cookie", cookie), (b"location", quote(nxt, safe="/?&=%#:+,;@!$'()*").encode())])


def logout() -> Reply:
    """Clear the session cookie and go back to the login form."""
    return Reply(303, headers=[(b"set-cookie", f"{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0".encode()),
                               (b"location", LOGIN_PATH.encode())])


def redirect_to_login(path: str, query: str) -> Reply:
    """A browser navigating to a guarded page without the key."""
    here = path + (f"?{query}" if query else "")
    return Reply(303, headers=[(b"location", f"{LOGIN_PATH}?next={quote(here, safe='')}".encode())])


def _read_key(body: bytes, wants_json: bool, nxt: str) -> tuple[str | None, str]:
    text = body.decode("utf-8", "replace")
    if wants_json:
        try:
            data = json.loads(text)
        except ValueError:
            return None, nxt
        key = data.get("key") if isinstance(data, dict) else None
        return (key if isinstance(key, str) else None), nxt
    form = parse_qs(text)
    return (form.get("key") or [None])[0], safe_next((form.get("next") or [nxt])[0])


_FORM = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>xmodal search - key needed</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<style>body{{font:15px/1.4 system-ui,sans-serif;background:#f6f7f9;color:#1d232a;display:grid;place-items:center;height:90vh}}
form{{background:#fff;border:1px solid #dde2e6;border-radius:8px;padding:1.5rem;display:grid;gap:.7rem;min-width:20rem}}
input,button{{font:inherit;padding:.5rem .7rem;border:1px solid #dde2e6;border-radius:6px}}
button{{background:#2f6fde;color:#fff;border-color:#2f6fde;cursor:pointer}} .error{{color:#b3261e}}</style></head>
<body><form method="post" action="{action}">
<h1 style="margin:0;font-size:1.2rem">xmodal search</h1>
<label for="key">This server needs its API key (asked once; kept in a cookie).</label>
<input id="key" name="key" type="password" autocomplete="current-password" required autofocus>
<input type="hidden" name="next" value="{next}">
<p id="login-error" class="error" role="alert">{error}</p>
<button type="submit">Open the search page</button>
</form></body></html>
"""


def _form(nxt: str, status: int, error: str = "") -> Reply:
    page = _FORM.format(action=LOGIN_PATH, next=html.escape(nxt, quote=True), error=html.escape(error))
    return Reply(status, page.encode(), "text/html; charset=utf-8",
                 headers=[(b"content-security-policy", b"default-src 'none'; style-src 'unsafe-inline'; "
                                                       b"img-src 'self'; form-action 'self'; frame-ancestors 'none'"),
                          (b"cache-control", b"no-store")])
