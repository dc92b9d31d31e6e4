"""Static files, response compression and the offline API docs, against the real app.

HTTP checks run in-process (TestClient, lifespan on, DuckDB under tmp_path); the browser check
opens /docs in Debian's chromium over a real server and sees nothing leave it.
"""

from __future__ import annotations

import gzip
import re
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from promptpulse.meta import Scope, create_key
from promptpulse.web.dashboard import STATIC, shell_html
from tests.conftest import LiveServer, iso

ECHARTS = "/static/vendor/echarts-6.1.0.min.js"
IDENTITY = {"Accept-Encoding": "identity"}


def test_vendored_files_are_cached_for_a_year(client: TestClient) -> None:
    r = client.get(ECHARTS, headers=IDENTITY)
    assert r.status_code == 200
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert r.headers["content-type"] == "text/javascript; charset=utf-8"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.content == (STATIC / "vendor/echarts-6.1.0.min.js").read_bytes()
    assert client.head(ECHARTS).status_code == 200


def test_own_files_are_revalidated_by_etag(client: TestClient) -> None:
    r = client.get("/static/js/main.js", headers=IDENTITY)
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-cache"
    assert r.headers["content-type"] == "text/javascript; charset=utf-8"
    assert r.headers["x-content-type-options"] == "nosniff"
    etag = r.headers["etag"]
    again = client.get("/static/js/main.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag and again.headers["cache-control"] == "no-cache"
    css = client.get("/static/app.css", headers={"If-None-Match": '"stale"'})
    assert css.status_code == 200 and css.headers["content-type"] == "text/css; charset=utf-8"
    assert client.get("/static/favicon.svg").headers["content-type"] == "image/svg+xml"


@pytest.mark.parametrize(
    "path",
    [
        "/static/%2e%2e/app.py",
        "/static/%2e%2e/%2e%2e/config.py",
        "/static/js/%2e%2e/%2e%2e/dashboard.py",
        "/static/..%2fapp.py",
        "/static/%2fetc/passwd",
        "/static/nope.js",
        "/static/js",
        "/static/",
        "/static/index.html",
        "/static/js/../index.html",
    ],
)
def test_outside_missing_folders_and_the_shell_are_not_static_files(
    client: TestClient, path: str
) -> None:
    r = client.get(path)
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"


def test_the_shell_is_served_by_the_pages_with_their_policy(client: TestClient) -> None:
    r = client.get("/cost")
    assert r.status_code == 200 and "script-src 'self'" in r.headers["content-security-policy"]
    assert r.content == shell_html()  # index.html, its app files under the build id
    assert r.content != (STATIC / "index.html").read_bytes()


def test_echarts_goes_out_gzipped_when_asked(client: TestClient) -> None:
    with client.stream("GET", ECHARTS, headers={"Accept-Encoding": "gzip"}) as r:
        raw = b"".join(r.iter_raw())
    assert r.status_code == 200
    assert r.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in r.headers["vary"].lower()
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    original = (STATIC / "vendor/echarts-6.1.0.min.js").read_bytes()
    assert len(raw) < len(original) / 2
    assert gzip.decompress(raw) == original
    plain = client.get(ECHARTS, headers=IDENTITY)
    assert "content-encoding" not in plain.headers
    assert plain.headers["content-length"] == str(len(original))


def test_large_json_is_gzipped_small_bodies_are_not(client: TestClient) -> None:
    with client.stream("GET", "/openapi.json", headers={"Accept-Encoding": "gzip"}) as r:
        raw = b"".join(r.iter_raw())
    assert r.headers["content-encoding"] == "gzip"
    assert b"/v1/events" in gzip.decompress(raw)
    small = client.get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert small.json() == {"status": "ok"} and "content-encoding" not in small.headers


def test_export_downloads_are_sent_as_stored(client: TestClient) -> None:
    meta = client.app.state.ctx.meta  # type: ignore[attr-defined]
    key = create_key(meta, "exports", frozenset({Scope.INGEST, Scope.READ}))[1]
    auth = {"Authorization": f"Bearer {key}"}
    now = datetime.now(UTC)
    events = [
        {
            "id": f"x{i}",
            "timestamp": iso(now - timedelta(minutes=i)),
            "model": "m",
            "latency_ms": 100 + i,
        }
        for i in range(200)
    ]
    assert client.post("/v1/events", json={"events": events}, headers=auth).status_code == 200
    window = {"from": iso(now - timedelta(hours=4)), "to": iso(now + timedelta(minutes=1))}
    columns = ["id", "timestamp", "model", "latency_ms"]  # (CSV cannot hold list columns)
    for fmt in ("csv", "jsonl"):
        job = client.post(
            "/v1/exports", json={"format": fmt, "columns": columns, **window}, headers=auth
        ).json()
        for _ in range(500):
            if job["status"] not in ("queued", "running"):
                break
            time.sleep(0.02)
            job = client.get(f"/v1/exports/{job['id']}", headers=auth).json()
        assert job["status"] == "done", job
        url = f"/v1/exports/{job['id']}/download"
        with client.stream("GET", url, headers={**auth, "Accept-Encoding": "gzip"}) as r:
            raw = b"".join(r.iter_raw())
        assert r.status_code == 200 and "content-encoding" not in r.headers
        assert int(r.headers["content-length"]) == len(raw) > 1000
        ranged = client.get(url, headers={**auth, "Range": "bytes=10-19"})
        assert ranged.status_code == 206 and ranged.content == raw[10:20]


def test_docs_load_swagger_ui_from_this_server_only(client: TestClient) -> None:
    r = client.get("/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assets = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    assert not re.search(r"https?://", r.text)
    assert any(a.endswith("-bundle.js") for a in assets)
    assert any(a.endswith(".css") for a in assets)
    for url in assets:
        assert url.startswith("/static/vendor/swagger-ui-") or url == "/favicon.ico", url
        got = client.get(url)
        assert got.status_code == 200, url
    assert '"validatorUrl": null' in r.text  # no badge from validator.swagger.io
    policy = r.headers["content-security-policy"]
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    assert re.search(r"script-src 'self' 'sha256-[A-Za-z0-9+/]+=*';", policy)
    assert client.head("/docs").status_code == 200
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/redoc").status_code == 404  # ReDoc loads from a CDN; not served
    spec = client.get("/openapi.json").json()
    assert "/docs" not in spec["paths"] and "/v1/events" in spec["paths"]


def test_docs_render_in_a_browser_with_nothing_leaving_the_server(live: LiveServer) -> None:
    """Opened by a host name that is not localhost or 127.0.0.1 (Swagger UI treats those two
    specially), as on a real server: the operations render, "Try it out" reaches the API under
    the page's policy, and every request the page makes goes to this server."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    from tests.web.test_dashboard import ARGS, CHROMIUM

    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run scripts/ensure-chromium (make test does)")
    host = "promptpulse-docs.test"
    origin = f"http://{host}:{urlsplit(live.url).port}"
    rules = f"--host-resolver-rules=MAP {host} 127.0.0.1, MAP * ~NOTFOUND"
    requests: list[str] = []
    errors: list[str] = []
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[*ARGS, rules])
        try:
            page = browser.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(origin + "/docs")
            page.wait_for_selector(".opblock", timeout=30_000)
            assert page.locator(".swagger-ui .info .title", has_text="PromptPulse").count()
            assert page.locator(".opblock-post", has_text="/v1/events").first.is_visible()
            health = page.locator(".opblock-get", has_text="/healthz").first
            health.locator(".opblock-summary").click()
            health.locator("button.try-out__btn").click()
            health.locator("button.execute").click()
            status = health.locator(".live-responses-table tbody td.response-col_status").first
            status.wait_for(timeout=30_000)
            assert status.inner_text().strip() == "200"
            page.wait_for_load_state("networkidle")
        finally:
            browser.close()
    assert errors == []
    assert origin + "/openapi.json" in requests and origin + "/healthz" in requests
    assert [u for u in requests if not u.startswith(origin + "/")] == []
