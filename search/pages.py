"""The web page's routes: the page itself, its static files and its icon.
The API documentation pages (/docs, /redoc) are served with their assets
from the `fastapi-offline` package (see `app.create_app`), so they render
with no network."""
from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

WEB_DIR = Path(__file__).parent / "web"
FAVICON = "/favicon.svg"
DOCS_ASSETS = "/static-docs"  # where fastapi-offline mounts Swagger UI / ReDoc


def install_page(app: FastAPI) -> None:
    """Add `/`, `/favicon.svg` (and `/favicon.ico`, which browsers ask for
    unprompted) and `/static/...` to `app`."""

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", media_type="text/html",
                            headers={"Cache-Control": "no-cache"})

    @app.get(FAVICON, include_in_schema=False)
    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(WEB_DIR / "favicon.svg", media_type="image/svg+xml",
                            headers={"Cache-Control": "public, max-age=86400"})

    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
