"""GET /v1/calls and the dashboard's own routes, over a real server (no browser)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from promptpulse.web.dashboard import build_id
from tests.conftest import iso


def _event(i: int, t: datetime, **extra: object) -> dict[str, object]:
    return {
        "id": f"c-{i}",
        "timestamp": iso(t),
        "model": "m-test",
        "latency_ms": 100 + i,
        "prompt_id": "p",
        **extra,
    }


@pytest.fixture(scope="module")
def seeded(live):  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    key = live.key("calls-a", "ingest,read")
    events = [_event(i, now - timedelta(minutes=30 - i)) for i in range(10)]
    events += [
        _event(
            100 + i,
            now - timedelta(minutes=5 - i),
            status="error",
            error_type="timeout",
            error_message=f"timed out #{i}",
            http_status=504,
        )
        for i in range(3)
    ]
    with live.client(key) as c:
        assert c.post("/v1/events", json={"events": events}).status_code == 200
    other = live.key("calls-b", "ingest,read")
    with live.client(other) as c:
        r = c.post("/v1/events", json={"events": [_event(1, now - timedelta(minutes=1))]})
        assert r.status_code == 200
    return key, other, now


def test_calls_newest_first_with_their_fields(live, seeded) -> None:  # type: ignore[no-untyped-def]
    key, _, now = seeded
    with live.client(key) as c:
        body = c.get(
            "/v1/calls",
            params={"from": iso(now - timedelta(hours=1)), "to": iso(now + timedelta(minutes=1))},
        ).json()
    stamps = [call["timestamp"] for call in body["calls"]]
    assert len(stamps) == 13
    assert stamps == sorted(stamps, reverse=True)
    assert all(s.endswith("Z") for s in stamps)
    assert {call["project"] for call in body["calls"]} == {"calls-a"}
    assert body["calls"][0]["id"] == "c-102"


def test_calls_show_every_token_class_service_and_metadata(live) -> None:  # type: ignore[no-untyped-def]
    key = live.key("calls-full", "ingest,read")
    t = datetime.now(UTC) - timedelta(minutes=2)
    event = _event(
        7, t, model="claude-sonnet-4-20250514", response_model="claude-sonnet-4-20250514-x",
        provider="anthropic.messages", service="api", metadata={"trace_id": "abc", "n": 2},
        input_tokens=5000, cached_tokens=3000, cache_write_tokens=1500, output_tokens=200,
        reasoning_tokens=50,
    )  # fmt: skip
    with live.client(key) as c:
        assert c.post("/v1/events", json={"events": [event]}).status_code == 200
        [call] = c.get("/v1/calls").json()["calls"]
    assert call["provider"] == "anthropic"  # one canonical name per provider
    assert (call["model"], call["response_model"]) == (event["model"], event["response_model"])
    assert (call["service"], call["metadata"]) == ("api", {"trace_id": "abc", "n": 2})
    assert [call[k] for k in ("input_tokens", "cached_tokens", "cache_write_tokens")] == [
        5000, 3000, 1500,
    ]  # fmt: skip
    assert (call["output_tokens"], call["reasoning_tokens"]) == (200, 50)


def test_calls_filter_errors_and_limit(live, seeded) -> None:  # type: ignore[no-untyped-def]
    key, _, now = seeded
    window = {"from": iso(now - timedelta(hours=1)), "to": iso(now + timedelta(minutes=1))}
    with live.client(key) as c:
        failing = c.get("/v1/calls", params={**window, "status": "error"}).json()["calls"]
        two = c.get("/v1/calls", params={**window, "limit": 2}).json()["calls"]
    assert [f["error_message"] for f in failing] == ["timed out #2", "timed out #1", "timed out #0"]
    assert {f["http_status"] for f in failing} == {504}
    assert len(two) == 2


def test_calls_stay_in_the_keys_project(live, seeded) -> None:  # type: ignore[no-untyped-def]
    _, other, _ = seeded
    with live.client(other) as c:
        mine = c.get("/v1/calls").json()["calls"]
        forbidden = c.get("/v1/calls", params={"project": "calls-a"})
    assert [m["project"] for m in mine] == ["calls-b"]
    assert forbidden.status_code == 403
    with live.client(live.key(None, "read,admin")) as admin:
        both = admin.get("/v1/calls", params={"project": ["calls-a", "calls-b"]}).json()["calls"]
    assert {b["project"] for b in both} == {"calls-a", "calls-b"}


@pytest.mark.parametrize(
    "params", [{"limit": "0"}, {"limit": "1001"}, {"limit": "x"}, {"from": "yesterday"}]
)
def test_calls_reject_bad_parameters(live, seeded, params) -> None:  # type: ignore[no-untyped-def]
    key, _, _ = seeded
    with live.client(key) as c:
        r = c.get("/v1/calls", params=params)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["field"] in params


def test_calls_need_a_read_key(live) -> None:  # type: ignore[no-untyped-def]
    with live.client(None) as c:
        assert c.get("/v1/calls").status_code == 401
    with live.client(live.key("calls-a", "ingest")) as c:
        assert c.get("/v1/calls").status_code == 403


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/prompts",
        "/prompts/a%2Fb",
        "/compare",
        "/cost",
        "/errors",
        "/experiments",
        "/experiments/exp-1",
        "/alerts",
    ],
)
def test_every_page_is_the_shell_with_a_strict_policy(live, path: str) -> None:  # type: ignore[no-untyped-def]
    with live.client(None) as c:
        r = c.get(path)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert f'<script type="module" src="/static/{build_id()}/js/main.js">' in r.text


def test_dashboard_key_says_what_the_key_may_do(live) -> None:  # type: ignore[no-untyped-def]
    with live.client(live.key("calls-a", "ingest,read")) as c:
        reader = c.get("/dashboard/key").json()
    with live.client(live.key("calls-a", "read,admin")) as c:
        admin = c.get("/dashboard/key").json()
    assert reader == {"project": "calls-a", "scopes": ["ingest", "read"], "admin": False}
    assert admin == {"project": "calls-a", "scopes": ["admin", "read"], "admin": True}
    with live.client(None) as c:
        assert c.get("/dashboard/key").status_code == 401
    with live.client(live.key("calls-a", "ingest")) as c:
        assert c.get("/dashboard/key").status_code == 403


def test_static_files_and_the_api_live_side_by_side(live) -> None:  # type: ignore[no-untyped-def]
    with live.client(None) as c:
        vendor = c.get("/static/vendor/echarts-6.1.0.min.js")
        app_js = c.get("/static/js/main.js")
        again = c.get("/static/js/main.js", headers={"If-None-Match": app_js.headers["etag"]})
        assert c.get("/static/../app.py").status_code == 404
        assert c.get("/static/%2e%2e/app.py").status_code == 404
        assert c.get("/static/nope.js").status_code == 404
        assert c.get("/healthz").json() == {"status": "ok"}
        assert c.get("/docs").status_code == 200
        spec = c.get("/openapi.json").json()
    assert vendor.status_code == 200 and "immutable" in vendor.headers["cache-control"]
    assert app_js.headers["content-type"].startswith("text/javascript")
    assert app_js.headers["cache-control"] == "no-cache"
    assert again.status_code == 304
    assert "/v1/calls" in spec["paths"]
    assert not any(p.startswith("/static") or p in ("/", "/cost") for p in spec["paths"])
