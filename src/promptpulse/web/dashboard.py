"""The dashboard: one HTML shell for every page, and the static files it loads.

No data is served here: the browser signs in with an API key and reads the public API, so the
pages need no auth of their own. Pages live at `/`, `/prompts`, `/prompts/<id>`, `/compare`,
`/cost`, `/errors`, `/experiments`, `/experiments/<id>`, `/alerts`; files under `/static/`
(vendored libraries carry their version in the name and are cached for a year; the app's own
files are revalidated with their ETag).
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from starlette.responses import FileResponse, Response

from promptpulse.errors import NotFound
from promptpulse.meta import ApiKey, Scope
from promptpulse.web.auth import require

STATIC = Path(__file__).parent / "static"
PAGES = ("/", "/prompts", "/compare", "/cost", "/errors", "/experiments", "/alerts")

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


@router.api_route("/experiments/{ref:path}", methods=["GET", "HEAD"])
async def experiment_page(ref: str) -> Response:
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


def static_file(relative: str) -> Path:
    """The file under STATIC named by a URL path, refusing anything that leaves the folder."""
    root = STATIC.resolve()
    target = (root / relative).resolve()
    if not target.is_relative_to(root) or not target.is_file() or target.name == "index.html":
        raise NotFound(f"no static file '{relative}'")
    return target


@router.api_route("/static/{relative:path}", methods=["GET", "HEAD"])
async def static(relative: str, request: Request) -> Response:
    target = static_file(relative)
    response = FileResponse(
        target, media_type=MEDIA_TYPES.get(target.suffix), stat_result=os.stat(target)
    )  # headers (ETag) now, not at send
    immutable = relative.startswith("vendor/")
    response.headers["Cache-Control"] = (
        "public, max-age=31536000, immutable" if immutable else "no-cache"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    etag = response.headers.get("etag")
    if etag and request.headers.get("if-none-match") == etag:
        return Response(
            status_code=304,
            headers={"ETag": etag, "Cache-Control": response.headers["Cache-Control"]},
        )
    return response


@router.get("/favicon.ico")
async def favicon() -> Response:
    return FileResponse(
        STATIC / "favicon.svg",
        media_type=MEDIA_TYPES[".svg"],
        headers={"Cache-Control": "public, max-age=86400"},
    )
