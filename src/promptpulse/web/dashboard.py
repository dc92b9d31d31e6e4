"""The dashboard: one HTML shell for every page, and the static files it loads.

No data is served here: the browser signs in with an API key and reads the public API, so the
pages need no auth of their own. Pages live at `/`, `/performance`, `/prompts`, `/prompts/<id>`,
`/compare`, `/cost`, `/errors`, `/experiments`, `/experiments/<id>`, `/alerts`, `/users`,
`/users/<id>`, `/dashboards`, `/dashboards/<id>`; files under `/static/` (Starlette's
StaticFiles). `install(app)` adds both.

Caching, Vite/Rails-style fingerprints without a build step: `build_id()` is a short hash of
every file under `static/` (paths and contents), computed once at startup, so any edit changes
it. The shell names the app's files under `/static/<build-id>/...` (`/static/<id>/js/main.js`);
the modules import each other by relative paths, so the whole graph resolves under the same
prefix, and `main.js` builds its one image URL from `import.meta.url` for the same reason. A
current build id is answered with a year-long immutable cache: a returning browser loads the
modules from its cache with no request at all. A build id that is not the current one gets the
current file with `no-cache` (see `Static.get_response`). The same files at their plain
`/static/<path>` (docs, tests, `/docs`' Swagger UI) are served as before: vendored files carry
their version in the name and are cached for a year; the app's own are revalidated by ETag.
The shell keeps ECharts at its plain vendored URL, so an upgrade of the app does not make
browsers download it again. The shell itself is `no-cache`, rewritten once, not per request.
"""

from __future__ import annotations

import hashlib
import os
import re
from functools import lru_cache
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

IMMUTABLE = "public, max-age=31536000, immutable"
BUILD_ID = re.compile(r"[0-9a-f]{12}")  # the shape of a build id: no folder of static/ has it
# The shell's references to the app's own files: everything under /static/ but vendor/.
APP_REF = re.compile(r'(?P<attr>(?:src|href)=")/static/(?!vendor/)')

router = APIRouter(include_in_schema=False)


def fingerprint(root: Path) -> str:
    """12 hex of a sha256 over the relative path and the contents of every file under root."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        content = hashlib.sha256(path.read_bytes()).hexdigest()
        digest.update(f"{path.relative_to(root).as_posix()}\0{content}\n".encode())
    return digest.hexdigest()[:12]


@lru_cache(maxsize=1)
def build_id() -> str:
    return fingerprint(STATIC)


@lru_cache(maxsize=1)
def shell_html() -> bytes:
    """index.html with the app's files under `/static/<build-id>/`."""
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    return APP_REF.sub(rf"\g<attr>/static/{build_id()}/", html).encode()


def _shell() -> Response:
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache"}
    return Response(shell_html(), media_type=MEDIA_TYPES[".html"], headers=headers)


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
    the dashboard relies on. Under `/static/<build-id>/` every file is cached for a year (see
    `get_response`). At its plain path, a vendored file never changes under its versioned name,
    so it is cached for a year; the app's own files are revalidated every time (`no-cache`).
    The media type comes from MEDIA_TYPES first, not from the host's mime tables (`.js` is
    `text/javascript` everywhere). `index.html` is the HTML shell, sent only by the page routes
    with its security headers, so it is not a static file."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory=directory)
        self.vendor = os.path.realpath(directory / VENDOR)

    async def get_response(self, path: str, scope: AsgiScope) -> Response:
        """`path` is already normalised (no `..` left inside it); the rest after a build id goes
        through the same lookup as any other path."""
        build, _, rest = path.partition(os.sep)
        if not (BUILD_ID.fullmatch(build) and rest):
            return await super().get_response(path, scope)
        response = await super().get_response(rest, scope)
        # Another build id: a tab or a shell from before an upgrade (or from another replica
        # mid-deploy). It gets today's file, revalidated, rather than a 404: a 404 on any module
        # breaks the whole page, while today's file usually works and the next load of the shell
        # brings the current ids. Never cached for a year, since it is not that build's content.
        response.headers["Cache-Control"] = IMMUTABLE if build == build_id() else "no-cache"
        return response

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
        response.headers["Cache-Control"] = IMMUTABLE if vendored else "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            response = NotModifiedResponse(response.headers)  # keeps ETag and Cache-Control
        return response


def install(app: FastAPI) -> None:
    """The pages and `/dashboard/key` (the router), and the static files at `/static`. The build
    id and the shell are computed here, at startup, not on the first page."""
    shell_html()
    app.include_router(router)
    app.mount("/static", Static(STATIC), name="static")
