"""The interactive API pages, /docs (Swagger UI) and /redoc, served with their assets from this
process: FastAPI's defaults load them from a CDN, so the pages are blank offline.

The JavaScript and CSS come from the `fastapi-offline` wheel (MIT; it ships Swagger UI 5 and
ReDoc 2, the major versions FastAPI's defaults name); only its files are used, mounted under
/docs/assets so one path prefix (/docs*) routes the pages and their assets to the API (the ALB
rule in deploy/cloudformation.yaml). This is FastAPI's documented self-hosting recipe."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/docs/assets"
SWAGGER_JS = f"{ASSETS_URL}/swagger-ui-bundle.js"
SWAGGER_CSS = f"{ASSETS_URL}/swagger-ui.css"
REDOC_JS = f"{ASSETS_URL}/redoc.standalone.js"
FAVICON = f"{ASSETS_URL}/favicon.png"


def assets_dir() -> Path:
    """The packaged Swagger UI / ReDoc files (a directory inside the installed wheel)."""
    return Path(str(files("fastapi_offline") / "static"))


def install(app: FastAPI) -> None:
    """/docs, its OAuth2 redirect helper and /redoc on local assets. The app must be created
    with `docs_url=None, redoc_url=None` (FastAPI's CDN pages)."""
    app.mount(ASSETS_URL, StaticFiles(directory=assets_dir()), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        """Someone opening the API's address in a browser wants its documentation."""
        return RedirectResponse("/docs")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=redirect_url,
            swagger_js_url=SWAGGER_JS,
            swagger_css_url=SWAGGER_CSS,
            swagger_favicon_url=FAVICON,
        )

    @app.get(redirect_url, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=REDOC_JS,
            redoc_favicon_url=FAVICON,
            with_google_fonts=False,  # fonts from Google are a CDN too: ReDoc falls back
        )
