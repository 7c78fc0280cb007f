"""The HTTP API (FastAPI; OpenAPI schema at /docs and /openapi.json) and
the web page at `/`.

Every error a client can cause becomes a 4xx JSON body ``{"detail": "one
line"}``: validation errors 422, bad values 400, unknown items 404, media
outside the corpus 403, oversize bodies 413. A 500 means a bug.
"""
from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from xmodal.alignment.core.errors import BadInput, XmodalError

from .batcher import EncodeBatcher
from .engine import Engine
from .hits import Hit
from .media import MediaForbidden, MediaNotFound, MediaStore, corpus_roots
from .metrics import Metrics
from .schemas import MAX_BODY_BYTES, Health, HitOut, IndexInfo, SearchRequest, SearchResponse

log = logging.getLogger("xmodal.search")
WEB_DIR = Path(__file__).parent / "web"
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


def hit_out(hit: Hit) -> HitOut:
    return HitOut(**hit.to_dict(), media_url=media_url(hit))


def create_app(engine: Engine, media_roots: list[str] | None = None) -> FastAPI:
    """The app serving `engine`. `media_roots` are extra directories media
    may be served from, on top of the corpus roots each index records.
    Concurrent queries are encoded in batches (see `batcher`)."""
    batcher = EncodeBatcher(engine)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        batcher.close()

    app = FastAPI(title="xmodal search", version="1", max_body_size=MAX_BODY_BYTES, lifespan=lifespan,
                  description="Cross-modal search over xmodal indexes: text, images and audio.")
    metrics = Metrics(extra=lambda: {
        "xmodal_encode_batches_total": ("Encoder calls made for queries.", batcher.batches),
        "xmodal_encoded_queries_total": ("Queries encoded (batch size = this / batches).", batcher.encoded),
    })
    # One store per index, replaced when its generation changes: finding the
    # corpus roots may read build-report.json, and the page asks for a
    # thumbnail per hit. Keeping only the current one bounds memory on a
    # long-running server that sees many `index add`/`remove` generations.
    stores: dict[str, tuple[int, MediaStore]] = {}
    app.state.engine, app.state.metrics, app.state.batcher = engine, metrics, batcher

    def store_for(index_name: str) -> MediaStore:
        src = engine.source(index_name)
        gen = src.manifest.generation
        if index_name not in stores or stores[index_name][0] != gen:
            stores[index_name] = (gen, MediaStore(list(media_roots or []) + corpus_roots(src.path, src.manifest)))
        return stores[index_name][1]

    _install_error_handlers(app, metrics)

    @app.middleware("http")
    async def count_responses(request: Request, call_next):
        response = await call_next(request)
        route = request.scope.get("route")
        metrics.observe_http(getattr(route, "path", "unmatched"), response.status_code)
        return response

    @app.post("/search", response_model=SearchResponse, summary="Search with text, media, a vector or an id")
    def search(req: SearchRequest) -> SearchResponse:
        start = time.perf_counter()
        try:
            query = req.to_query()
            vector, exclude = batcher.encode(query)
            hits = engine.search_vector(vector, k=req.k, target=req.target, where=req.where,
                                        dedup=req.dedup, rescore=req.rescore, exclude=exclude)
        except XmodalError:
            metrics.observe_query("bad_request", time.perf_counter() - start)
            raise
        except Exception:
            metrics.observe_query("error", time.perf_counter() - start)
            raise
        took = time.perf_counter() - start
        metrics.observe_query("ok" if hits else "no_results", took)
        return SearchResponse(hits=[hit_out(h) for h in hits], query=query.kind,
                              took_ms=round(took * 1000, 3))

    @app.get("/items/{item_id:path}/media", summary="The item's file (?thumb=1: image thumbnail)",
             response_class=Response)
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

    @app.get("/items/{item_id:path}", response_model=HitOut, summary="Metadata of one item")
    def item(item_id: str, index: str | None = None) -> HitOut:
        hit, _src = _lookup(engine, item_id, index)
        return hit_out(hit)

    @app.get("/indexes", response_model=list[IndexInfo], summary="The indexes served")
    def indexes() -> list[IndexInfo]:
        engine.refresh()
        return [IndexInfo(**src.info()) for src in engine.sources]

    @app.get("/health", response_model=Health, summary="Liveness + can the indexes be read")
    def health() -> Any:
        spec = getattr(engine.encoder, "spec", None)
        aligned = getattr(engine.encoder, "aligned", None)
        try:
            engine.refresh()
        except XmodalError as exc:
            return JSONResponse({"status": f"degraded: {exc}", "indexes": len(engine.sources),
                                 "encoder": spec, "aligned": aligned}, status_code=503)
        return Health(status="ok", indexes=len(engine.sources), encoder=spec, aligned=aligned)

    @app.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
    def prometheus() -> PlainTextResponse:
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
    return app


def _lookup(engine: Engine, item_id: str, index: str | None) -> tuple[Hit, Any]:
    try:
        return engine.item(item_id, index)
    except BadInput as exc:
        raise MediaNotFound(exc.item, exc.reason, exc.hint) from None


def _install_error_handlers(app: FastAPI, metrics: Metrics) -> None:
    """User errors -> 4xx with one line; anything else -> logged 500."""

    def body(message: str, code: int) -> JSONResponse:
        return JSONResponse({"detail": message}, status_code=code)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        if request.url.path == "/search":
            metrics.observe_query("bad_request", 0.0)
        # One line per problem, without echoing the (possibly huge) input.
        parts = []
        for err in exc.errors()[:5]:
            loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "body"
            parts.append(f"{loc}: {err.get('msg', 'invalid')}")
        return body("; ".join(parts) or "invalid request", 422)

    def status_handler(code: int):
        async def handle(request: Request, exc: Exception) -> JSONResponse:
            return body(str(exc), code)

        return handle

    # Starlette picks the handler by the exception's class, most specific first.
    for exc_type, code in ((MediaNotFound, 404), (MediaForbidden, 403), (BadInput, 400), (XmodalError, 422)):
        app.add_exception_handler(exc_type, status_handler(code))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return body(str(exc.detail), exc.status_code)

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return body(f"internal error ({type(exc).__name__}); this is a bug, please report it", 500)
