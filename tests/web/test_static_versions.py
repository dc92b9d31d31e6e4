"""Versioned static URLs: the shell names the app's files under `/static/<build-id>/`, served
with a year-long immutable cache, so a returning browser loads the modules from its cache.

HTTP checks run in-process against the real app; the browser check runs Debian's chromium over a
real server that records every request it saw.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from promptpulse.web.dashboard import IMMUTABLE, STATIC, build_id, fingerprint
from tests.conftest import LiveServer, start_server, stop_server

IDENTITY = {"Accept-Encoding": "identity"}
STALE = "0123456789ab"


def test_the_shell_names_the_apps_files_under_the_current_build_id(client: TestClient) -> None:
    r = client.get("/performance")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-cache"
    assert "script-src 'self'" in r.headers["content-security-policy"]
    refs = re.findall(r'(?:src|href)="(/static/[^"]+)"', r.text)
    assert f'<script type="module" src="/static/{build_id()}/js/main.js">' in r.text
    own = [u for u in refs if not u.startswith("/static/vendor/")]
    assert len(own) == 5 and all(u.startswith(f"/static/{build_id()}/") for u in own), refs
    # ECharts keeps its plain URL: an upgrade of the app does not download it again
    assert "/static/vendor/echarts-6.1.0.min.js" in refs
    for url in refs:
        assert client.get(url).status_code == 200, url


def test_a_versioned_file_is_immutable_with_its_media_type(client: TestClient) -> None:
    for path, media in [
        ("js/main.js", "text/javascript; charset=utf-8"),
        ("js/pages/overview.js", "text/javascript; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
    ]:
        r = client.get(f"/static/{build_id()}/{path}", headers=IDENTITY)
        assert r.status_code == 200, path
        assert r.headers["cache-control"] == IMMUTABLE
        assert r.headers["content-type"] == media
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.content == (STATIC / path).read_bytes()
    head = client.head(f"/static/{build_id()}/js/main.js")
    assert head.status_code == 200 and head.headers["cache-control"] == IMMUTABLE


def test_a_stale_build_id_gets_todays_file_revalidated(client: TestClient) -> None:
    assert build_id() != STALE
    r = client.get(f"/static/{STALE}/js/main.js", headers=IDENTITY)
    assert r.status_code == 200 and r.headers["cache-control"] == "no-cache"
    assert r.content == (STATIC / "js/main.js").read_bytes()
    again = client.get(f"/static/{STALE}/js/main.js", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.headers["cache-control"] == "no-cache"


def test_plain_urls_are_unchanged(client: TestClient) -> None:
    r = client.get("/static/js/main.js", headers=IDENTITY)
    assert r.status_code == 200 and r.headers["cache-control"] == "no-cache"
    again = client.get("/static/js/main.js", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    vendor = client.get("/static/vendor/echarts-6.1.0.min.js", headers=IDENTITY)
    assert vendor.headers["cache-control"] == IMMUTABLE


@pytest.mark.parametrize(
    "rest",
    [
        "%2e%2e/%2e%2e/app.py",
        "%2e%2e/%2e%2e/%2e%2e/config.py",
        "js/%2e%2e/%2e%2e/%2e%2e/dashboard.py",
        "..%2f..%2fapp.py",
        "%2fetc/passwd",
        "index.html",
        "js/../index.html",
        "nope.js",
        "js",
        "",
    ],
)
@pytest.mark.parametrize("build", ["current", STALE])
def test_traversal_the_shell_and_folders_are_refused_under_a_build_id(
    client: TestClient, build: str, rest: str
) -> None:
    prefix = build_id() if build == "current" else build
    r = client.get(f"/static/{prefix}/{rest}")
    assert r.status_code == 404, r.text
    assert r.headers["content-type"] == "application/problem+json"


def test_the_build_id_changes_with_any_file(tmp_path: Path) -> None:
    (tmp_path / "js").mkdir()
    (tmp_path / "js/a.js").write_text("export const a = 1;\n")
    (tmp_path / "app.css").write_text("body{}\n")
    first = fingerprint(tmp_path)
    assert re.fullmatch(r"[0-9a-f]{12}", first) and fingerprint(tmp_path) == first
    (tmp_path / "js/a.js").write_text("export const a = 2;\n")
    edited = fingerprint(tmp_path)
    assert edited != first
    (tmp_path / "js/a.js").rename(tmp_path / "js/b.js")  # same content, another name
    assert fingerprint(tmp_path) not in (first, edited)
    assert fingerprint(STATIC) == build_id()


def test_the_apps_files_name_nothing_by_an_absolute_static_url() -> None:
    """An absolute `/static/...` in a module or a style sheet would leave the versioned prefix
    (one more request on every load); they name their files relative to themselves."""
    for path in STATIC.rglob("*"):
        if path.suffix in (".js", ".css") and "vendor" not in path.relative_to(STATIC).parts:
            assert "/static/" not in path.read_text(encoding="utf-8"), path


# ---------------------------------------------------------------- a returning browser


@pytest.fixture(scope="module")
def counted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, list[str]]]:
    """A real server and the path of every HTTP request that reached it."""
    seen: list[str] = []

    def wrap(app: Any) -> Any:
        async def recording(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                seen.append(scope["path"])
            await app(scope, receive, send)

        return recording

    server, thread, info = start_server(tmp_path_factory.mktemp("counted"), wrap=wrap)
    yield info, seen
    stop_server(server, thread)


def test_a_returning_browser_asks_the_server_for_no_module(counted) -> None:  # type: ignore[no-untyped-def]
    playwright_api = pytest.importorskip("playwright.sync_api")
    from tests.web.test_dashboard import ARGS, CHROMIUM, Tab

    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run scripts/ensure-chromium (make test does)")
    live, seen = counted
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            tab = Tab(browser, live.url, live.key("versions", "read"))
            tab.open("/")
            first = [u for u in seen if u.startswith("/static/")]
            seen.clear()
            tab.open("/")  # a navigation, as a returning user's: not a reload
            second = list(seen)
            assert tab.errors == []
            tab.close()
        finally:
            browser.close()
    assert "/" in second  # the shell itself is asked again (no-cache)...
    assert [u for u in second if u.startswith("/static/")] == []  # ...its files are not
    modules = [u for u in first if u.startswith(f"/static/{build_id()}/js/")]
    assert len(modules) >= 27, first
