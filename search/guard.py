"""Who may talk to the server: a Host-header allow-list (so a web page that
rebinds its DNS name to 127.0.0.1 cannot reach a loopback server) and an
optional API key every request must carry. Both are checked before any
route runs, static files and the schema included. A browser shows the key
once at `/login` and then carries it as a session cookie (`login`)."""
from __future__ import annotations

import hmac
import ipaddress
import json
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from . import login

LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
KEY_HEADER = "x-api-key"
WILDCARD_BINDS = ("0.0.0.0", "::", "")


@dataclass(frozen=True)
class ServeOptions:
    """How the app treats clients.

    `allow_hosts`: Host names (no port) requests may carry; "*" allows any,
    a leading "." a domain and its subdomains. IP literals are allowed when
    `any_ip` is set (the server is bound to every interface: a rebinding
    attacker's page can only send a DNS name). `api_key`: required in the
    X-API-Key (or `Authorization: Bearer`) header, or the session cookie
    `/login` sets, when set.
    `absolute_paths`: show file system paths in responses instead of paths
    relative to the corpus root."""

    allow_hosts: tuple[str, ...] = LOCAL_NAMES
    any_ip: bool = False
    api_key: str | None = None
    absolute_paths: bool = False

    @classmethod
    def for_bind(cls, host: str, extra_hosts: tuple[str, ...] = (), **kw: Any) -> "ServeOptions":
        """Defaults for `xmodal serve --host HOST`: the bound address and
        localhost, plus the `--allow-host` names."""
        names = [*LOCAL_NAMES, *([] if host in WILDCARD_BINDS else [host]), *extra_hosts]
        return cls(allow_hosts=tuple(dict.fromkeys(n.strip("[]").lower() for n in names)),
                   any_ip=host in WILDCARD_BINDS, **kw)


def host_name(header: str) -> str:
    """'Example.com:8000' -> 'example.com'; '[::1]:80' -> '::1'."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    if header.count(":") == 1:
        return header.split(":", 1)[0]
    return header  # a bare name, or an unbracketed IPv6 literal


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def host_allowed(options: ServeOptions, header: str | None) -> bool:
    if "*" in options.allow_hosts:
        return True
    if not header:
        return False
    name = host_name(header)
    if options.any_ip and _is_ip(name):
        return True
    return any(name == allowed or (allowed.startswith(".") and (name == allowed[1:] or name.endswith(allowed)))
               for allowed in options.allow_hosts)


def key_ok(options: ServeOptions, headers: dict[str, str]) -> bool:
    if options.api_key is None:
        return True
    given = headers.get(KEY_HEADER)
    auth = headers.get("authorization", "")
    if given is None and auth.lower().startswith("bearer "):
        given = auth[7:].strip()
    if given is None:
        return login.cookie_ok(options.api_key, headers.get("cookie"))
    return hmac.compare_digest(given.encode(), options.api_key.encode())


def _is_page_visit(scope: Scope, headers: dict[str, str]) -> bool:
    """A browser navigating (GET for HTML): sent to the login form instead
    of a JSON 401 it cannot act on."""
    return scope.get("method") in ("GET", "HEAD") and "text/html" in headers.get("accept", "")


Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Callable, Callable], Awaitable[None]]


class GuardMiddleware:
    """ASGI middleware: 400 for a Host not allowed, 401 for a missing or
    wrong key, both as the API's JSON error body; with a key, it answers
    `/login` and `/logout` itself and sends browsers without the key there."""

    def __init__(self, app: ASGIApp, options: ServeOptions):
        self.app = app
        self.options = options

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if not host_allowed(self.options, headers.get("host")):
            shown = host_name(headers.get("host", ""))[:100] or "(none)"
            await _reply(send, 400, f"Host header {shown!r} is not allowed: start the server with "
                                    f"--allow-host {shown or 'NAME'} to answer to it")
            return
        path = scope.get("path", "")
        if self.options.api_key is not None and path in (login.LOGIN_PATH, login.LOGOUT_PATH):
            await _send(send, await _login_reply(scope, receive, headers, self.options.api_key))
            return
        if not key_ok(self.options, headers):
            if _is_page_visit(scope, headers):
                await _send(send, login.redirect_to_login(path, scope.get("query_string", b"").decode("latin-1")))
                return
            await _reply(send, 401, "missing or wrong API key: send it in the X-API-Key header "
                                    "(a browser: open /login)",
                         [(b"www-authenticate", b'Bearer realm="xmodal"')])
            return
        await self.app(scope, receive, send)


async def _reply(send: Callable, code: int, message: str, headers: list | None = None) -> None:
    await _send(send, login.Reply(code, json.dumps({"detail": message}).encode(), headers=headers or []))


async def _send(send: Callable, reply: "login.Reply") -> None:
    await send({"type": "http.response.start", "status": reply.status,
                "headers": [(b"content-type", reply.media_type.encode()),
                            (b"content-length", str(len(reply.body)).encode()), *reply.headers]})
    await send({"type": "http.response.body", "body": reply.body})


async def _login_reply(scope: Scope, receive: Callable, headers: dict[str, str], api_key: str) -> "login.Reply":
    if scope.get("path") == login.LOGOUT_PATH:
        if scope.get("method") != "POST":
            return login.Reply(405, json.dumps({"detail": "log out with POST"}).encode(),
                               headers=[(b"allow", b"POST")])
        return login.logout()
    body = b""
    if scope.get("method") == "POST":
        body = await _read_body(receive, login.MAX_LOGIN_BODY)
        if body is None:
            return login.Reply(413, json.dumps({"detail": "login body is too large"}).encode())
    return login.answer(scope.get("method", "GET"), headers.get("content-type", ""), body,
                        scope.get("query_string", b"").decode("latin-1"), api_key)


async def _read_body(receive: Callable, limit: int) -> bytes | None:
    """The request body, or None once it passes `limit` bytes."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def openapi_security(schema: dict[str, Any]) -> dict[str, Any]:
    """Declare the API key in an OpenAPI schema (every operation needs it)."""
    schema.setdefault("components", {}).setdefault("securitySchemes", {})["apiKey"] = {
        "type": "apiKey", "in": "header", "name": "X-API-Key"}
    schema["security"] = [{"apiKey": []}]
    return schema
