"""The dashboard: one HTML shell for every page, and the static files it loads.

No data is served here: the browser signs in with an API key and reads the public API, so the
pages need no auth of their own. Pages live at `/`, `/performance`, `/prompts`, `/prompts/<id>`,
`/compare`, `/cost`, `/errors`, `/experiments`, `/experiments/<id>`, `/alerts`, `/users`,
`/users/<id>`, `/dashboards`, `/dashboards/<id>`; files under `/static/`
(Starlette's StaticFiles: vendored libraries carry their version in the name and are cached for
a year; the app's own files are revalidated with their ETag). `install(app)` adds both.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, Request
from starlette.datastructures import Headers
from starlette.responses import FileResponse, Response
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import Scope as AsgiScope

from promptpulse.meta import ApiKey, Scope
from promptpulse.web.auth import require

STATIC = Path(__file__).parent / "static"
VENDOR = "vendor"  # under STATIC: third-party files, their version in the file name
PAGES = (
    "/",
    "/performance",
    "/prompts",
    "/compare",
    "/cost",
    "/errors",
    "/experiments",
    "/alerts",
    "/users",
    "/dashboards",
    "/custom-metrics",
)

SECURITY_HEADERS = {
    # ECharts styles its tooltips with inline styles; scripts only from this origin.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".html": "text/html; charset=utf-8",
}

router = APIRouter(include_in_schema=False)


def _shell() -> Response:
    response = FileResponse(STATIC / "index.html", media_type=MEDIA_TYPES[".html"])
    response.headers.update(SECURITY_HEADERS)
    response.headers["Cache-Control"] = "no-cache"
    return response


async def page(_: Request) -> Response:
    return _shell()


for _path in PAGES:
    router.add_api_route(_path, page, methods=["GET", "HEAD"])


@router.api_route("/prompts/{prompt_id:path}", methods=["GET", "HEAD"])
async def prompt_page(prompt_id: str) -> Response:
    return _shell()


@router.api_route("/users/{user_id:path}", methods=["GET", "HEAD"])
async def user_page(user_id: str) -> Response:
    return _shell()


@router.api_route("/experiments/{ref:path}", methods=["GET", "HEAD"])
async def experiment_page(ref: str) -> Response:
    return _shell()


@router.api_route("/dashboards/{ref:path}", methods=["GET", "HEAD"])
async def custom_dashboard_page(ref: str) -> Response:
    return _shell()


@router.get("/dashboard/key")
async def key_info(key: ApiKey = Depends(require(Scope.READ))) -> dict[str, object]:
    """What the signed-in key may do, so pages can disable what it may not (acknowledge and
    resolve need `admin`). The public API has no such call; no secret is returned."""
    return {
        "project": key.project,
        "scopes": sorted(s.value for s in key.scopes),
        "admin": key.allows(Scope.ADMIN),
    }


@router.get("/favicon.ico")
async def favicon() -> Response:
    return FileResponse(
        STATIC / "favicon.svg",
        media_type=MEDIA_TYPES[".svg"],
        headers={"Cache-Control": "public, max-age=86400"},
    )


class Static(StaticFiles):
    """`/static/`: StaticFiles (path checks, ETag, 304 on If-None-Match, Range) plus the headers
    the dashboard relies on. Vendored files never change under their versioned name, so they are
    cached for a year; the app's own files are revalidated every time (`no-cache`). The media type
    comes from MEDIA_TYPES first, not from the host's mime tables (`.js` is `text/javascript`
    everywhere). `index.html` is the HTML shell, sent only by the page routes with its security
    headers, so it is not a static file."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory=directory)
        self.vendor = os.path.realpath(directory / VENDOR)

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        full_path, stat_result = super().lookup_path(path)
        if os.path.basename(full_path) == "index.html":
            return "", None
        return full_path, stat_result

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: AsgiScope,
        status_code: int = 200,
    ) -> Response:
        media_type = MEDIA_TYPES.get(Path(full_path).suffix)
        response: Response = FileResponse(
            full_path, status_code, media_type=media_type, stat_result=stat_result
        )
        vendored = os.path.commonpath([os.fspath(full_path), self.vendor]) == self.vendor
        response.headers["Cache-Control"] = (
            "public, max-age=31536000, immutable" if vendored else "no-cache"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            response = NotModifiedResponse(response.headers)  # keeps ETag and Cache-Control
        return response


def install(app: FastAPI) -> None:
    """The pages and `/dashboard/key` (the router), and the static files at `/static`."""
    app.include_router(router)
    app.mount("/static", Static(STATIC), name="static")
