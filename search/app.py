"""The HTTP API (FastAPI; OpenAPI schema at /docs and /openapi.json) and
the web page at `/`.

Every error a client can cause becomes a 4xx JSON body ``{"detail": "one
line"}``, declared in the schema (see `http_errors`). Requests pass the
Host allow-list and the optional API key first (`guard`); responses show
paths relative to the corpus root unless the server was asked otherwise.
"""
from __future__ import annotations

import os
import time
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response

from xmodal.alignment.core.errors import BadInput, XmodalError
from xmodal.alignment.preprocess.text import escape_tree
from xmodal.alignment.core.items import Hit

from .batcher import EncodeBatcher
from .display import relative_uri
from .engine import Engine
from .guard import GuardMiddleware, ServeOptions, openapi_security
from .http_errors import error_responses, install_error_handlers
from .media import MediaForbidden, MediaNotFound, MediaStore
from .metrics import Metrics
from .pages import DOCS_ASSETS, FAVICON, install_page
from .schemas import MAX_BODY_BYTES, Health, HitOut, IndexInfo, SearchRequest, SearchResponse
from .sources import IndexSource

# Media is corpus content, not our page: never let it run script here.
MEDIA_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; media-src 'self'; sandbox",
    "Cache-Control": "public, max-age=3600",
}


def media_url(hit: Hit) -> str | None:
    """Where the web page / clients fetch a hit's file."""
    if not hit.uri:
        return None
    index = hit.metadata.get("index")
    suffix = f"?index={quote(str(index), safe='')}" if index is not None else ""
    return f"/items/{quote(hit.id, safe='/')}/media{suffix}"


def hit_out(hit: Hit, roots: list[str] | None = None) -> HitOut:
    """A hit as the API shows it; `roots` given: its uri relative to them.
    Strings that are not valid Unicode (a corpus sidecar's "\\udfff") are
    escaped: they cannot be sent as UTF-8."""
    shown = Hit(**escape_tree(hit.to_dict()))
    out = HitOut(**shown.to_dict(), media_url=media_url(shown))
    if roots is not None:
        out.uri = relative_uri(hit.uri, roots)
    return out


def create_app(engine: Engine, media_roots: list[str] | None = None,
               options: ServeOptions | None = None) -> FastAPI:
    """The app serving `engine`. `media_roots` are extra directories media
    may be served from, on top of the corpus roots each index records;
    `options` say which Host names it answers to, its API key and whether
    responses show absolute paths (default: localhost only, no key,
    relative paths). Concurrent queries are encoded in batches."""
    options = options or ServeOptions()
    batcher = EncodeBatcher(engine)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        batcher.close()

    app = _fastapi(title="xmodal search", version="1", max_body_size=MAX_BODY_BYTES, lifespan=lifespan,
                   description="Cross-modal search over xmodal indexes: text, images and audio.")
    metrics = Metrics(extra=lambda: {
        "xmodal_encode_batches_total": ("Encoder calls made for queries.", batcher.batches),
        "xmodal_encoded_queries_total": ("Queries encoded (batch size = this / batches).", batcher.encoded),
    })
    # One store per index, replaced when its generation changes: asking the
    # index for its media roots may read files, and the page asks for a
    # thumbnail per hit. Keeping only the current one bounds memory on a
    # long-running server that sees many `index add`/`remove` generations.
    stores: dict[str, tuple[int, MediaStore]] = {}
    app.state.engine, app.state.metrics, app.state.batcher = engine, metrics, batcher

    def store_for(index_name: str) -> MediaStore:
        src = engine.source(index_name)
        gen = src.manifest.generation
        if index_name not in stores or stores[index_name][0] != gen:
            stores[index_name] = (gen, MediaStore(list(media_roots or []) + src.index.media_roots()))
        return stores[index_name][1]

    def shown(hit: Hit) -> HitOut:
        if options.absolute_paths:
            return hit_out(hit)
        index = hit.metadata.get("index")
        return hit_out(hit, store_for(str(index)).roots if index is not None else [])

    install_error_handlers(app, lambda: metrics.observe_query("bad_request", 0.0))

    @app.middleware("http")
    async def count_responses(request: Request, call_next):
        response = await call_next(request)
        route = request.scope.get("route")
        metrics.observe_http(getattr(route, "path", "unmatched"), response.status_code)
        return response

    @app.post("/search", response_model=SearchResponse, responses=error_responses(),
              summary="Search with text, media, a vector or an id")
    def search(req: SearchRequest) -> SearchResponse:
        start = time.perf_counter()
        try:
            query = req.to_query()
            vector, exclude = batcher.encode(query)
            hits = engine.search_vector(vector, req.to_options(), exclude=exclude)
        except XmodalError:
            metrics.observe_query("bad_request", time.perf_counter() - start)
            raise
        except Exception:
            metrics.observe_query("error", time.perf_counter() - start)
            raise
        took = time.perf_counter() - start
        metrics.observe_query("ok" if hits else "no_results", took)
        return SearchResponse(hits=[shown(h) for h in hits], query=query.kind,
                              took_ms=round(took * 1000, 3))

    @app.get("/items/{item_id:path}/media", summary="The item's file (?thumb=1: image thumbnail)",
             response_class=Response, responses={
                 200: {"content": {"image/*": {}, "audio/*": {}, "text/plain": {},
                                      "application/octet-stream": {}},
                          "description": "The file, with its own media type"},
                 **error_responses(403, 404, json_route=False)})
    def item_media(item_id: str, index: str | None = None, thumb: bool = False) -> Response:
        hit, src = _lookup(engine, item_id, index)
        store = store_for(src.name)
        media = store.open(hit.uri, item_id)
        if thumb:
            if hit.modality != "image":
                raise BadInput(f"thumbnail of {item_id!r}", f"item is {hit.modality}, not an image")
            return Response(store.thumbnail(media, f"media of {item_id!r}"), media_type="image/jpeg",
                            headers=MEDIA_HEADERS)
        if media.path:
            return FileResponse(media.path, media_type=media.media_type, headers=MEDIA_HEADERS)
        return Response(media.data, media_type=media.media_type, headers=MEDIA_HEADERS)

    @app.get("/items/{item_id:path}", response_model=HitOut, responses=error_responses(404),
             summary="Metadata of one item")
    def item(item_id: str, index: str | None = None) -> HitOut:
        hit, _src = _lookup(engine, item_id, index)
        return shown(hit)

    @app.get("/indexes", response_model=list[IndexInfo], responses=error_responses(),
             summary="The indexes served")
    def indexes() -> list[IndexInfo]:
        engine.refresh()
        out = [IndexInfo(**src.info()) for src in engine.sources]
        if not options.absolute_paths:
            for info in out:
                info.path = os.path.basename(os.path.normpath(info.path))
        return out

    @app.get("/health", response_model=Health, summary="Liveness + can the indexes be read",
             responses={503: {"model": Health, "description": "An index cannot be read"},
                        **error_responses()})
    def health() -> Any:
        enc = engine.encoder
        spec, aligned = (enc.spec, enc.aligned) if enc is not None else (None, None)
        try:
            engine.refresh()
        except XmodalError as exc:
            return JSONResponse({"status": f"degraded: {exc}", "indexes": len(engine.sources),
                                 "encoder": spec, "aligned": aligned}, status_code=503)
        return Health(status="ok", indexes=len(engine.sources), encoder=spec, aligned=aligned)

    @app.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics",
             responses=error_responses(json_route=False))
    def prometheus() -> PlainTextResponse:
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    install_page(app)
    if options.api_key is not None:
        _declare_api_key(app)
    # Added last: the outermost layer, so it runs before anything else.
    app.add_middleware(GuardMiddleware, options=options)
    return app


def _fastapi(**kw: Any) -> FastAPI:
    """The app, with /docs and /redoc whose Swagger UI / ReDoc assets come
    from the fastapi-offline package (FastAPI's own pages load them from a
    CDN and are blank offline). An install that lacks the declared
    dependency still serves, with FastAPI's CDN pages."""
    try:
        from fastapi_offline import FastAPIOffline
    except ImportError:
        return FastAPI(**kw)
    return FastAPIOffline(favicon_url=FAVICON, static_url=DOCS_ASSETS, **kw)


def _declare_api_key(app: FastAPI) -> None:
    """Every operation of the schema needs the key."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = openapi_security(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _lookup(engine: Engine, item_id: str, index: str | None) -> tuple[Hit, IndexSource]:
    try:
        return engine.item(item_id, index)
    except BadInput as exc:
        raise MediaNotFound(exc.item, exc.reason, exc.hint) from None
