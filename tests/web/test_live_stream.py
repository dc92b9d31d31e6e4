"""GET /v1/changes/stream over a real server with a real SSE client (httpx streaming): the delta
of an ingest equals the batch (numpy), a tab sees only its own project, and a client that
never reads is dropped to "resync" while ingest goes on."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.conftest import LiveServer, iso, start_server, stop_server


def _events(response: httpx.Response) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event name, data) pairs of a Server-Sent Events response, comments skipped."""
    name, data = "message", ""
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            data = line[len("data: ") :]
        elif line == "" and data:
            yield name, json.loads(data)
            name, data = "message", ""


def _next(events: Iterator[tuple[str, dict[str, Any]]], wanted: str) -> dict[str, Any]:
    for name, data in events:
        assert name != "bye", "the stream ended before the event came"
        if name == wanted:
            return data
    raise AssertionError(f"no {wanted} event")


def _random_calls(rng: np.random.Generator, n: int, now: datetime) -> list[dict[str, Any]]:
    seconds = rng.uniform(1, 600, n)  # spread over about ten minutes: several minute buckets
    calls = []
    for i in range(n):
        call: dict[str, Any] = {
            "id": f"r{i}-{rng.integers(1 << 40)}",
            "timestamp": iso(now - timedelta(seconds=float(seconds[i]))),
            "model": "m-live-test",  # no known price: calls without cost_usd stay unpriced
            "prompt_id": f"p{i % 3}",
            "latency_ms": float(rng.uniform(10, 5000)),
            "input_tokens": int(rng.integers(0, 4000)),
            "output_tokens": int(rng.integers(0, 900)),
            "status": "error" if rng.random() < 0.2 else "success",
        }
        if rng.random() < 0.8:
            call["cost_usd"] = float(rng.uniform(0, 0.05))
        calls.append(call)
    return calls


def _expected(calls: list[dict[str, Any]]) -> dict[str, Any]:
    """The delta's figures computed independently with numpy."""
    cost = np.array([c.get("cost_usd", np.nan) for c in calls])
    stamps = np.array([c["timestamp"].rstrip("Z") for c in calls], dtype="datetime64[us]")
    minutes, per_minute = np.unique(stamps.astype("datetime64[m]"), return_counts=True)
    order = np.argsort(stamps)[::-1][:25]
    return {
        "requests": len(calls),
        "errors": int(np.sum([c["status"] == "error" for c in calls])),
        "input_tokens": int(np.sum([c["input_tokens"] for c in calls])),
        "output_tokens": int(np.sum([c["output_tokens"] for c in calls])),
        "cost_usd": float(np.nansum(cost)),
        "unpriced_requests": int(np.isnan(cost).sum()),
        "minutes": [(str(m) + ":00Z", int(k)) for m, k in zip(minutes, per_minute, strict=True)],
        "newest": [calls[i]["id"] for i in order],
    }


def test_a_stream_gets_the_delta_of_an_ingest(live: LiveServer, project: str) -> None:
    rng = np.random.default_rng(12)
    key = live.key(project)
    other = live.key(project + "-other")
    calls = _random_calls(rng, 300, datetime.now(UTC))
    want = _expected(calls)
    with live.client(key) as c, c.stream("GET", "/v1/changes/stream") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = _events(response)
        _next(events, "hello")
        with live.client(other) as o:  # another project's commit: not this tab's business
            assert o.post("/v1/events", json={"events": calls[:5]}).status_code == 200
        with live.client(key) as w:
            assert w.post("/v1/events", json={"events": calls}).json()["accepted"] == 300
        delta = _next(events, "delta")
    assert delta["project"] == project
    for name in ("requests", "errors", "input_tokens", "output_tokens", "unpriced_requests"):
        assert delta[name] == want[name], name
    assert delta["successes"] == want["requests"] - want["errors"]
    assert delta["tokens"] == want["input_tokens"] + want["output_tokens"]
    assert delta["cost_usd"] == pytest.approx(want["cost_usd"], rel=1e-9)
    assert [(m["t"], m["requests"]) for m in delta["minutes"]] == want["minutes"]
    assert sum(m["cost_usd"] for m in delta["minutes"]) == pytest.approx(want["cost_usd"])
    assert [call["id"] for call in delta["calls"]] == want["newest"]
    assert set(delta["calls"][0]) >= {
        "id",
        "timestamp",
        "prompt_id",
        "model",
        "status",
        "latency_ms",
    }


def test_a_duplicate_only_commit_sends_no_delta(live: LiveServer, project: str) -> None:
    key = live.key(project)
    call = {"id": "same", "timestamp": iso(datetime.now(UTC)), "model": "m", "latency_ms": 5}
    with live.client(key) as c:
        assert c.post("/v1/events", json={"events": [call]}).json()["accepted"] == 1
        with c.stream("GET", "/v1/changes/stream") as response:
            events = _events(response)
            hello = _next(events, "hello")
            assert c.post("/v1/events", json={"events": [call]}).json()["duplicates"] == 1
            name, data = next(e for e in events if e[0] != "message")
    assert name == "changed" and data["sequence"] > hello["sequence"]


def test_the_stream_needs_a_read_key_for_its_own_project(live: LiveServer, project: str) -> None:
    with live.client(None) as c:
        assert c.get("/v1/changes/stream").status_code == 401
    with live.client(live.key(project, "ingest")) as c:
        assert c.get("/v1/changes/stream").status_code == 403
    with live.client(live.key(project, "read")) as c:
        r = c.get("/v1/changes/stream", params={"project": "someone-else"})
        assert r.status_code == 403
        assert r.headers["content-type"].startswith("application/problem+json")


@pytest.fixture
def small_queues(tmp_path: Path) -> Iterator[LiveServer]:
    server, thread, info = start_server(tmp_path, alerts_interval_s=0)
    info.ctx.changes.subscribers.limit = 4  # a queue of four events: quick to overflow
    info.ctx.changes.subscribers.lifetime_s = 600  # the stream outlives the test however slow
    yield info
    stop_server(server, thread)


def test_a_client_that_never_reads_gets_resync_and_holds_nothing_back(
    small_queues: LiveServer, project: str
) -> None:
    live = small_queues
    key = live.key(project)
    host, port = live.url.removeprefix("http://").split(":")
    sleeper = socket.socket()
    sleeper.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a tiny window: fills fast
    sleeper.connect((host, int(port)))
    sleeper.sendall(
        f"GET /v1/changes/stream HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    subscriber = None
    with live.client(key) as c:
        for batch in range(3000):  # far more than enough to fill the queue and the sockets
            calls = [
                {"timestamp": iso(datetime.now(UTC)), "model": "m", "latency_ms": 1,
                 "prompt_id": f"prompt-{batch}-{i}-" + "x" * 150}
                for i in range(25)
            ]  # fmt: skip
            assert c.post("/v1/events", json={"events": calls}).status_code == 200
            subscriber = next(iter(live.ctx.changes.subscribers), None)
            if subscriber is not None and subscriber.overflows:
                break
        # The writer went on: every batch was acknowledged after its commit, and a reader
        # opened now gets its delta at once.
        with c.stream("GET", "/v1/changes/stream") as response:
            events = _events(response)
            _next(events, "hello")
            one = {"timestamp": iso(datetime.now(UTC)), "model": "m", "latency_ms": 1}
            assert c.post("/v1/events", json={"events": [one]}).status_code == 200
            assert _next(events, "delta")["requests"] == 1
    assert subscriber is not None and subscriber.overflows >= 1
    sleeper.settimeout(30)
    seen = b""
    while b"event: resync" not in seen:  # when it reads at last: resync, not the dropped deltas
        chunk = sleeper.recv(1 << 16)
        assert chunk, "the stream closed before the resync"
        seen = seen[-64:] + chunk
    sleeper.close()


def test_streams_beyond_the_servers_bound_are_refused_with_retry_after(
    small_queues: LiveServer, project: str
) -> None:
    small_queues.ctx.changes.subscribers.most = 1
    key = small_queues.key(project)
    with small_queues.client(key) as c, c.stream("GET", "/v1/changes/stream") as first:
        events = _events(first)  # held: a collected reader would close the connection
        _next(events, "hello")
        with c.stream("GET", "/v1/changes/stream") as second:  # headers only: never hangs
            assert second.status_code == 429 and second.headers["retry-after"] == "5"
            assert second.headers["content-type"].startswith("application/problem+json")
