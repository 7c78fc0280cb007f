"""Who may talk to the server: a Host-header allow-list (so a web page that
rebinds its DNS name to 127.0.0.1 cannot reach a loopback server) and an
optional API key every request must carry. Both are checked before any
route runs, static files and the schema included."""
from __future__ import annotations

import hmac
import ipaddress
import json
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

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
    X-API-Key (or `Authorization: Bearer`) header when set.
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
    return given is not None and hmac.compare_digest(given.encode(), options.api_key.encode())


Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Callable, Callable], Awaitable[None]]


class GuardMiddleware:
    """ASGI middleware: 400 for a Host not allowed, 401 for a missing or
    wrong key, both as the API's JSON error body."""

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
        if not key_ok(self.options, headers):
            await _reply(send, 401, "missing or wrong API key: send it in the X-API-Key header",
                         [(b"www-authenticate", b'Bearer realm="xmodal"')])
            return
        await self.app(scope, receive, send)


async def _reply(send: Callable, code: int, message: str, headers: list | None = None) -> None:
    body = json.dumps({"detail": message}).encode()
    await send({"type": "http.response.start", "status": code,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


def openapi_security(schema: dict[str, Any]) -> dict[str, Any]:
    """Declare the API key in an OpenAPI schema (every operation needs it)."""
    schema.setdefault("components", {}).setdefault("securitySchemes", {})["apiKey"] = {
        "type": "apiKey", "in": "header", "name": "X-API-Key"}
    schema["security"] = [{"apiKey": []}]
    return schema
