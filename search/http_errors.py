"""HTTP errors: one JSON body for every error the API returns
(`{"detail": "one line"}`), the handlers that produce it, and the
`responses` table each route declares, so the OpenAPI schema lists every
status a client can get and 422 bodies match what it says.

User errors: 400 bad values (and a Host header not allowed), 401 a missing
or wrong API key, 403 media outside the corpus, 404 unknown items, 405 a
method the path does not take (with `Allow`), 413 oversize bodies, 422
invalid fields. A 500 means a bug; 503 an index that cannot be read.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from xmodal.alignment.core.errors import BadInput, XmodalError

from .media import MediaForbidden, MediaNotFound

log = logging.getLogger("xmodal.search")

DESCRIPTIONS = {
    400: "Bad value, or a Host header the server does not answer to",
    401: "Missing or wrong API key (send it in the X-API-Key header)",
    403: "The item's file lies outside the corpus",
    404: "Unknown item or index, or the item has no file",
    405: "Method not allowed here (see the Allow header)",
    413: "Request body too large",
    422: "A field is missing, of the wrong type or out of range",
    500: "Internal error (a bug)",
}
# Every route can answer these: Host/API-key checks, bodies, bugs.
COMMON = (400, 401, 413, 422, 500)


class ErrorOut(BaseModel):
    """The body of every error response."""

    detail: str = Field(description="one line: what went wrong and what to do")


def error_responses(*extra: int, json_route: bool = True) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: COMMON plus `extra` status codes.

    FastAPI files a `model` under the route's own media type, so a route
    answering text or files (`json_route=False`) names the JSON schema
    itself; the JSON routes' `model` entries put ErrorOut in the schema."""
    def entry(code: int) -> dict[str, Any]:
        if json_route:
            return {"model": ErrorOut, "description": DESCRIPTIONS[code]}
        return {"description": DESCRIPTIONS[code],
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}}

    return {code: entry(code) for code in sorted({*COMMON, *extra})}


def error_body(message: str, code: int, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=code, headers=headers)


def install_error_handlers(app: FastAPI, on_invalid_search: Callable[[], None]) -> None:
    """User errors -> 4xx with one line; anything else -> logged 500.
    `on_invalid_search` counts a /search refused before it ran."""

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        if request.url.path == "/search":
            on_invalid_search()
        # One line per problem, without echoing the (possibly huge) input.
        parts = []
        for err in exc.errors()[:5]:
            if err.get("type") == "json_invalid":
                parts.append(await _json_position(request, err))
                continue
            loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "body"
            parts.append(f"{loc}: {err.get('msg', 'invalid')}")
        return error_body("; ".join(parts) or "invalid request", 422)

    def status_handler(code: int):
        async def handle(request: Request, exc: Exception) -> JSONResponse:
            return error_body(str(exc), code)

        return handle

    # Starlette picks the handler by the exception's class, most specific first.
    for exc_type, code in ((MediaNotFound, 404), (MediaForbidden, 403), (BadInput, 400), (XmodalError, 422)):
        app.add_exception_handler(exc_type, status_handler(code))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405 and "allow" not in {k.lower() for k in headers}:
            headers["Allow"] = ", ".join(allowed_methods(app, request.scope))
        return error_body(str(exc.detail), exc.status_code, headers)

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return error_body(f"internal error ({type(exc).__name__}); this is a bug, please report it", 500)


async def _json_position(request: Request, err: dict[str, Any]) -> str:
    """`body is not valid JSON at line L column C (why)` for a body that does
    not parse (FastAPI gives only a character offset)."""
    loc = err.get("loc", ())
    pos = loc[-1] if loc and isinstance(loc[-1], int) else 0
    text = (await request.body()).decode("utf-8", errors="replace")
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    why = str((err.get("ctx") or {}).get("error") or "").strip()
    return f"body is not valid JSON at line {line} column {column}" + (f" ({why.lower()})" if why else "")


def allowed_methods(app: FastAPI, scope: dict[str, Any]) -> list[str]:
    """Methods some route takes at this path (mounted static files: GET,
    HEAD), for the `Allow` header of a 405."""
    methods: set[str] = set()
    for route in app.router.routes:
        match, _ = route.matches({**scope, "method": "GET", "type": "http"})
        if match == Match.NONE:
            continue
        route_methods = getattr(route, "methods", None)
        methods |= set(route_methods) if route_methods else {"GET", "HEAD"}
    return sorted(methods) or ["GET", "HEAD"]
