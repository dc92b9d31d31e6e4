"""Every bad-input class of DESIGN.md's call record table, over HTTP: per-item errors that name
the field, the good items of the batch stored; then the batch-level answers (400/413/422)."""

from __future__ import annotations

import gzip
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest

from promptpulse.model import Scope
from tests.conftest import InProcessApp, iso

T = "2025-06-02T12:00:00Z"
PROBLEM = "application/problem+json"


def good(i: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"good-{i}",
        "timestamp": T,
        "model": "gpt-4o-mini",
        "latency_ms": 100 + i,
        **extra,
    }


def without(field: str) -> dict[str, Any]:
    event = good(9)
    del event[field]
    return event


def in_future(hours: float) -> str:
    return iso(datetime.now(UTC) + timedelta(hours=hours))


# (case id, the bad event, the field its error must name)
BAD_EVENTS: list[tuple[str, dict[str, Any], str]] = [
    ("missing-timestamp", without("timestamp"), "timestamp"),
    ("missing-model", without("model"), "model"),
    ("missing-latency", without("latency_ms"), "latency_ms"),
    ("timestamp-no-offset", good(9, timestamp="2025-06-02T12:00:00"), "timestamp"),
    ("timestamp-date-only", good(9, timestamp="2025-06-02"), "timestamp"),
    ("timestamp-garbage", good(9, timestamp="noon"), "timestamp"),
    ("timestamp-number", good(9, timestamp=1748865600), "timestamp"),
    ("timestamp-25h-future", good(9, timestamp=in_future(25)), "timestamp"),
    ("id-129", good(9, id="x" * 129), "id"),
    ("id-empty", good(9, id=""), "id"),
    ("id-number", good(9, id=5), "id"),
    ("project-101", good(9, project="p" * 101), "project"),
    ("prompt_id-201", good(9, prompt_id="x" * 201), "prompt_id"),
    ("prompt_version-65", good(9, prompt_version="x" * 65), "prompt_version"),
    ("model-201", good(9, model="x" * 201), "model"),
    ("model-empty", good(9, model=""), "model"),
    ("provider-65", good(9, provider="x" * 65), "provider"),
    ("environment-201", good(9, environment="x" * 201), "environment"),
    ("feature-201", good(9, feature="x" * 201), "feature"),
    ("user_id-201", good(9, user_id="x" * 201), "user_id"),
    ("session_id-201", good(9, session_id="x" * 201), "session_id"),
    ("tags-33", good(9, tags=[f"t{i}" for i in range(33)]), "tags"),
    ("tag-not-string", good(9, tags=["a", 5]), "tags"),
    ("tags-not-list", good(9, tags="a,b"), "tags"),
    ("metadata-16k", good(9, metadata={"blob": "x" * (16 * 1024)}), "metadata"),
    ("metadata-list", good(9, metadata=[1, 2]), "metadata"),
    ("latency-negative", good(9, latency_ms=-1), "latency_ms"),
    ("ttft-negative", good(9, ttft_ms=-0.5), "ttft_ms"),
    ("queue-negative", good(9, queue_ms=-3), "queue_ms"),
    ("input-negative", good(9, input_tokens=-1), "input_tokens"),
    ("output-negative", good(9, output_tokens=-1), "output_tokens"),
    ("cached-negative", good(9, cached_tokens=-1), "cached_tokens"),
    ("reasoning-negative", good(9, reasoning_tokens=-1), "reasoning_tokens"),
    ("cache-write-negative", good(9, cache_write_tokens=-1), "cache_write_tokens"),
    ("cache-write-text", good(9, cache_write_tokens="3"), "cache_write_tokens"),
    ("response-model-long", good(9, response_model="m" * 201), "response_model"),
    ("cost-negative", good(9, cost_usd=-0.01), "cost_usd"),
    ("retries-negative", good(9, retries=-1), "retries"),
    ("latency-nan-string", good(9, latency_ms="NaN"), "latency_ms"),
    ("cost-infinity-string", good(9, cost_usd="Infinity"), "cost_usd"),
    ("latency-text", good(9, latency_ms="fast"), "latency_ms"),
    ("input-fraction", good(9, input_tokens=1.5), "input_tokens"),
    ("input-text", good(9, input_tokens="many"), "input_tokens"),
    ("cache_hit-text", good(9, cache_hit="maybe"), "cache_hit"),
    ("model-number", good(9, model=5), "model"),
    ("http_status-600", good(9, http_status=600), "http_status"),
    ("status-ok", good(9, status="ok"), "status"),
    ("error_type-unknown", good(9, status="error", error_type="boom"), "error_type"),
    ("error_type-with-success", good(9, error_type="timeout"), "error_type"),
    ("error_type-default-success", good(9, status="success", error_type="other"), "error_type"),
    ("cached-over-input", good(9, input_tokens=10, cached_tokens=11), "cached_tokens"),
    (
        "cache-read-and-write-over-input",
        good(9, input_tokens=10, cached_tokens=6, cache_write_tokens=5),
        "cache_write_tokens",
    ),
    ("reasoning-over-output", good(9, output_tokens=10, reasoning_tokens=11), "reasoning_tokens"),
]


@pytest.fixture
def client(app: InProcessApp, project: str) -> httpx.Client:
    with app.client(app.key(project)) as c:
        yield c


def stored(app: InProcessApp, project: str, columns: tuple[str, ...] = ("id",)) -> list[dict]:
    scope = Scope(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    return app.ctx.store.calls(scope.with_filter("project", [project]), list(columns), 100_000)


@pytest.mark.parametrize(
    ("event", "field"), [(e, f) for _, e, f in BAD_EVENTS], ids=[c for c, _, _ in BAD_EVENTS]
)
def test_bad_item_is_rejected_naming_its_field(
    app: InProcessApp, project: str, client: httpx.Client, event: dict, field: str
) -> None:
    r = client.post("/v1/events", json={"events": [good(0), event, good(2)]})
    assert r.status_code == 207, r.text
    body = r.json()
    assert body["accepted"] == 2 and body["duplicates"] == 0
    assert len(body["rejected"]) == 1
    rejected = body["rejected"][0]
    assert rejected["index"] == 1
    assert rejected["id"] == (event["id"] if isinstance(event.get("id"), str) else None)
    fields = [e["field"] for e in rejected["errors"]]
    assert any(f == field or f.startswith(field + ".") for f in fields), rejected
    assert all(e["message"] for e in rejected["errors"])
    assert sorted(row["id"] for row in stored(app, project)) == ["good-0", "good-2"]


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_non_finite_json_numbers_name_the_field(
    app: InProcessApp, project: str, client: httpx.Client, literal: bytes
) -> None:
    """NaN/Infinity are not JSON, but some encoders send them: a per-item error, never a 500."""
    bad = b'{"timestamp": "%s", "model": "m", "latency_ms": %s}' % (T.encode(), literal)
    body = b'{"events": [%s, %s]}' % (orjson.dumps(good(0)), bad)
    r = client.post("/v1/events", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 207, r.text
    assert [e["field"] for e in r.json()["rejected"][0]["errors"]] == ["latency_ms"]
    assert [row["id"] for row in stored(app, project)] == ["good-0"]


def test_limits_are_inclusive(app: InProcessApp, client: httpx.Client, project: str) -> None:
    """Exactly at each limit is fine."""
    event = good(
        0,
        id="i" * 128,
        prompt_id="p" * 200,
        prompt_version="v" * 64,
        model="m" * 200,
        provider="x" * 64,
        environment="e" * 200,
        feature="f" * 200,
        user_id="u" * 200,
        session_id="s" * 200,
        tags=[f"t{i}" for i in range(32)],
        timestamp=in_future(23),
        metadata={"blob": "x" * (16 * 1024 - 20)},
        input_tokens=10,
        cached_tokens=10,
        output_tokens=5,
        reasoning_tokens=5,
        latency_ms=0,
        ttft_ms=0,
        cost_usd=0,
        status="error",
        error_type="content_filter",
        http_status=599,
    )
    assert len(orjson.dumps(event["metadata"])) <= 16 * 1024
    r = client.post("/v1/events", json={"events": [event]})
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    row = stored(app, project, ("id", "tags", "provider", "cost_usd", "error_type"))[0]
    assert row["id"] == "i" * 128 and len(row["tags"]) == 32
    assert row["cost_usd"] == 0 and row["error_type"] == "content_filter"


def test_long_error_message_is_truncated_not_rejected(
    app: InProcessApp, project: str, client: httpx.Client
) -> None:
    message = "".join(chr(ord("a") + i % 26) for i in range(5000))
    r = client.post(
        "/v1/events",
        json={
            "events": [
                good(0, status="error", error_message=message),
                good(1, status="error", error_type="timeout", error_message="short"),
            ]
        },
    )
    assert r.status_code == 200, r.text
    rows = {
        row["id"]: row
        for row in stored(app, project, ("id", "error_message", "error_type", "status"))
    }
    assert rows["good-0"]["error_message"] == message[:2048]
    assert rows["good-0"]["error_type"] == "other"  # the default with status=error
    assert rows["good-1"]["error_message"] == "short"
    assert rows["good-1"]["error_type"] == "timeout"


def test_unknown_fields_are_ignored_and_defaults_apply(
    app: InProcessApp, project: str, client: httpx.Client
) -> None:
    r = client.post(
        "/v1/events",
        json={
            "events": [
                good(0, colour="blue", nested={"a": [1, 2]}, timestamp="2025-06-02T17:30:00+05:30")
            ]
        },
    )
    assert r.status_code == 200, r.text
    row = stored(
        app,
        project,
        (
            "id",
            "timestamp",
            "status",
            "input_tokens",
            "cached_tokens",
            "cache_hit",
            "retries",
            "tags",
            "project",
        ),
    )[0]
    assert row == {
        "id": "good-0",
        "timestamp": datetime(2025, 6, 2, 12, 0),
        "status": "success",
        "input_tokens": 0,
        "cached_tokens": 0,
        "cache_hit": False,
        "retries": 0,
        "tags": [],
        "project": project,
    }


def test_several_errors_in_one_item_are_all_named(client: httpx.Client) -> None:
    bad = {"id": "b", "timestamp": "2025-06-02T12:00:00", "latency_ms": -1, "status": "meh"}
    r = client.post("/v1/events", json={"events": [good(0), bad]})
    assert r.status_code == 207
    fields = {e["field"] for e in r.json()["rejected"][0]["errors"]}
    assert fields >= {"timestamp", "model", "latency_ms", "status"}


# ---------------------------------------------------------------- batch level


def assert_problem(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body = r.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def test_all_bad_is_422_with_every_rejection(
    app: InProcessApp, project: str, client: httpx.Client
) -> None:
    r = client.post("/v1/events", json={"events": [without("model"), good(1, latency_ms=-1)]})
    body = assert_problem(r, 422)
    assert body["accepted"] == 0
    assert [(x["index"], x["errors"][0]["field"]) for x in body["rejected"]] == [
        (0, "model"),
        (1, "latency_ms"),
    ]
    assert stored(app, project) == []


@pytest.mark.parametrize("body", [b"{not json", b"", b"\xff\xfe", b'{"events": [1,'])
def test_not_json_is_400(client: httpx.Client, body: bytes) -> None:
    assert_problem(
        client.post("/v1/events", content=body, headers={"Content-Type": "application/json"}), 400
    )


@pytest.mark.parametrize(
    "payload", [{}, {"events": 5}, {"events": {"a": 1}}, [good(0)], {"event": [good(0)]}, "events"]
)
def test_json_without_an_events_list_is_422(client: httpx.Client, payload: Any) -> None:
    body = assert_problem(client.post("/v1/events", json=payload), 422)
    assert "events" in [e["field"] for e in body["errors"]]


def test_empty_events_list_is_fine(client: httpx.Client) -> None:
    r = client.post("/v1/events", json={"events": []})
    assert r.status_code == 200
    assert r.json() == {"accepted": 0, "duplicates": 0, "rejected": []}


def test_more_than_10000_events_is_413(
    app: InProcessApp, project: str, client: httpx.Client
) -> None:
    event = {"timestamp": T, "model": "m", "latency_ms": 1}
    assert_problem(client.post("/v1/events", json={"events": [event] * 10_001}), 413)
    r = client.post("/v1/events", json={"events": [event] * 10_000})
    assert r.status_code == 200 and r.json()["accepted"] == 10_000
    assert len(stored(app, project)) == 10_000


def test_body_over_10_mib_is_413(app: InProcessApp, project: str, client: httpx.Client) -> None:
    padding = "x" * (10 * 1024 * 1024)
    payload = orjson.dumps({"events": [good(0, metadata={"p": padding})]})
    assert len(payload) > 10 * 1024 * 1024
    assert_problem(
        client.post("/v1/events", content=payload, headers={"Content-Type": "application/json"}),
        413,
    )

    def chunks():  # no Content-Length: the limit must hold while streaming too
        for i in range(0, len(payload), 1 << 20):
            yield payload[i : i + (1 << 20)]

    assert_problem(
        client.post("/v1/events", content=chunks(), headers={"Content-Type": "application/json"}),
        413,
    )
    assert stored(app, project) == []


def test_gzip_bomb_is_413(app: InProcessApp, project: str, client: httpx.Client) -> None:
    inflated = b'{"events": [' + b" " * (64 * 1024 * 1024) + b"]}"
    bomb = gzip.compress(inflated, 9)
    assert len(bomb) < 200_000
    assert_problem(
        client.post(
            "/v1/events",
            content=bomb,
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        ),
        413,
    )


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_body_is_accepted(
    app: InProcessApp, project: str, client: httpx.Client, encoding: str
) -> None:
    raw = orjson.dumps({"events": [good(i) for i in range(50)]})
    body = gzip.compress(raw) if encoding == "gzip" else zlib.compress(raw)
    r = client.post(
        "/v1/events",
        content=body,
        headers={"Content-Type": "application/json", "Content-Encoding": encoding},
    )
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 50
    assert len(stored(app, project)) == 50


def test_corrupt_gzip_is_400(client: httpx.Client) -> None:
    body = gzip.compress(orjson.dumps({"events": [good(0)]}))
    corrupt = body[:10] + bytes(b ^ 0x5A for b in body[10:])
    assert_problem(
        client.post(
            "/v1/events",
            content=corrupt,
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        ),
        400,
    )
    assert_problem(
        client.post(
            "/v1/events",
            content=b"plain text",
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        ),
        400,
    )


def test_truncated_gzip_is_400_naming_gzip(client: httpx.Client) -> None:
    body = gzip.compress(orjson.dumps({"events": [good(0)]}))
    for cut in (body[:-8], body[: len(body) // 2]):  # no trailer; half the stream
        r = client.post(
            "/v1/events",
            content=cut,
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )
        assert_problem(r, 400)
        assert "gzip" in r.json()["detail"]


@pytest.mark.parametrize(
    ("headers", "field"),
    [
        ({"Content-Type": "text/plain"}, "Content-Type"),
        ({"Content-Type": "application/x-www-form-urlencoded"}, "Content-Type"),
        ({"Content-Type": "application/json", "Content-Encoding": "br"}, "Content-Encoding"),
    ],
)
def test_unsupported_content_type_or_encoding(
    client: httpx.Client, headers: dict, field: str
) -> None:
    r = client.post("/v1/events", content=orjson.dumps({"events": [good(0)]}), headers=headers)
    assert 400 <= r.status_code < 500
    body = assert_problem(r, r.status_code)
    assert field in [e["field"] for e in body["errors"]]


def test_json_with_charset_is_accepted(client: httpx.Client) -> None:
    r = client.post(
        "/v1/events",
        content=orjson.dumps({"events": [good(0)]}),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert r.status_code == 200, r.text


# ---------------------------------------------------------------- scores


def score(i: int = 0, **extra: Any) -> dict[str, Any]:
    return {"id": f"s-{i}", "event_id": "good-0", "name": "thumbs", "value": 1, **extra}


BAD_SCORES: list[tuple[str, dict[str, Any], str]] = [
    ("missing-event_id", {"id": "s", "name": "n", "value": 1}, "event_id"),
    ("missing-name", {"id": "s", "event_id": "e", "value": 1}, "name"),
    ("missing-value", {"id": "s", "event_id": "e", "name": "n"}, "value"),
    ("value-text", score(9, value="good"), "value"),
    ("value-nan", score(9, value="NaN"), "value"),
    ("source-unknown", score(9, source="robot"), "source"),
    ("comment-2049", score(9, comment="c" * 2049), "comment"),
    ("name-empty", score(9, name=""), "name"),
    ("id-129", score(9, id="x" * 129), "id"),
    ("timestamp-no-offset", score(9, timestamp="2025-06-02T12:00:00"), "timestamp"),
    ("timestamp-future", score(9, timestamp=in_future(25)), "timestamp"),
    ("project-other", score(9, project="someone-else"), "project"),
]


@pytest.mark.parametrize(
    ("item", "field"), [(s, f) for _, s, f in BAD_SCORES], ids=[c for c, _, _ in BAD_SCORES]
)
def test_bad_score_names_its_field(client: httpx.Client, item: dict, field: str) -> None:
    r = client.post("/v1/scores", json={"scores": [score(0, value="x"), item]})
    body = assert_problem(r, 422)
    assert [x["index"] for x in body["rejected"]] == [0, 1]
    assert field in [e["field"] for e in body["rejected"][1]["errors"]]


def test_scores_batch_level(client: httpx.Client) -> None:
    assert_problem(
        client.post("/v1/scores", content=b"nope", headers={"Content-Type": "application/json"}),
        400,
    )
    body = assert_problem(client.post("/v1/scores", json={"events": []}), 422)
    assert "scores" in [e["field"] for e in body["errors"]]
    assert_problem(client.post("/v1/scores", json={"scores": [score(0)] * 10_001}), 413)


def test_scores_partly_bad_is_207(app: InProcessApp, client: httpx.Client) -> None:
    assert client.post("/v1/events", json={"events": [good(0)]}).status_code == 200
    r = client.post("/v1/scores", json={"scores": [score(0), score(1, value="x"), score(2)]})
    assert r.status_code == 207, r.text
    assert r.json()["accepted"] == 2
    assert [x["index"] for x in r.json()["rejected"]] == [1]
