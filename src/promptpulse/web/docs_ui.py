"""`/docs`: Swagger UI over `/openapi.json`, from files this server ships, so the API docs work
on a server without internet access (FastAPI's own `/docs` loads Swagger UI from a CDN).

Swagger UI is vendored from the npm package `swagger-ui-dist` (Apache-2.0) like ECharts:
`static/vendor/swagger-ui-<version>-bundle.js` and `.css`, with its LICENSE, NOTICE and the
licences of the libraries in the bundle next to them.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import Response

from promptpulse.web.dashboard import SECURITY_HEADERS

SWAGGER_UI = "5.35.0"
JS = f"/static/vendor/swagger-ui-{SWAGGER_UI}-bundle.js"
CSS = f"/static/vendor/swagger-ui-{SWAGGER_UI}.css"
FAVICON = "/favicon.ico"
INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def _policy(html: bytes) -> str:
    """The dashboard's policy, plus the one inline script of this page (the SwaggerUIBundle(...)
    call that get_swagger_ui_html writes) allowed by its hash. A hash, not a nonce: the page is the
    same on every request. It is taken from the HTML actually sent, so a FastAPI release that
    changes the script changes the hash with it; any other inline script stays blocked."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in INLINE_SCRIPT.findall(html)
    )
    return (
        f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'self'"
    )


@cache
def page(openapi_url: str, title: str, root_path: str = "") -> tuple[bytes, str]:
    """The HTML and its Content-Security-Policy (one per root path, as FastAPI's own /docs)."""
    html = get_swagger_ui_html(
        openapi_url=root_path + openapi_url,
        title=title,
        swagger_js_url=root_path + JS,
        swagger_css_url=root_path + CSS,
        swagger_favicon_url=root_path + FAVICON,
        # Swagger UI's validator badge is an image from validator.swagger.io with this server's
        # OpenAPI URL in it. BaseLayout (this page's) does not show it; off all the same, so
        # that no layout or version change can send anything to another site.
        swagger_ui_parameters={"validatorUrl": None},
    )
    body = bytes(html.body)
    return body, _policy(body)


def install(app: FastAPI, path: str = "/docs") -> None:
    """`GET /docs` (create the app with `docs_url=None` so FastAPI does not add its own)."""
    openapi_url = app.openapi_url
    if openapi_url is None:
        raise ValueError("the API docs need the OpenAPI document (openapi_url)")
    title = f"{app.title} - Swagger UI"

    async def docs(request: Request) -> Response:
        root_path = str(request.scope.get("root_path", "")).rstrip("/")
        body, policy = page(openapi_url, title, root_path)
        headers = {**SECURITY_HEADERS, "Content-Security-Policy": policy}
        headers["Cache-Control"] = "no-cache"
        return Response(body, media_type="text/html; charset=utf-8", headers=headers)

    app.add_route(path, docs, include_in_schema=False)  # GET and HEAD
