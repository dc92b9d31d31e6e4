"""Alerting fixtures: a simulated clock, a real HTTP receiver, a real SMTP server (aiosmtpd),
and a server of our own whose evaluator runs only on demand."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer, iso, start_server, stop_server

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday


class SimClock:
    def __init__(self, now: datetime) -> None:
        self.now = now
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def set(self, now: datetime) -> None:
        with self._lock:
            self.now = now

    def advance(self, **kw: float) -> datetime:
        with self._lock:
            self.now += timedelta(**kw)
            return self.now


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any
    raw: bytes = b""


@dataclass
class Receiver:
    """A real HTTP server that records JSON posts; `fail_next` answers 503 that many times."""

    url: str
    items: list[Received] = field(default_factory=list)
    fail_next: int = 0
    status: int = 200
    cond: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, n: int, timeout: float = 15.0) -> list[Received]:
        with self.cond:
            self.cond.wait_for(lambda: len(self.items) >= n, timeout=timeout)
            return list(self.items)

    def clear(self) -> None:
        with self.cond:
            self.items.clear()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            r = box["r"]
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            with r.cond:
                if r.fail_next > 0:
                    r.fail_next -= 1
                    code = 503
                else:
                    code = r.status
                    r.items.append(Received(self.path, dict(self.headers), json.loads(raw), raw))
                    r.cond.notify_all()
            self.send_response(code)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box["r"] = Receiver(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield box["r"]
    server.shutdown()
    server.server_close()


@dataclass
class Mailbox:
    port: int
    messages: list[Message] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, n: int, timeout: float = 15.0) -> list[Message]:
        with self.cond:
            self.cond.wait_for(lambda: len(self.messages) >= n, timeout=timeout)
            return list(self.messages)


@pytest.fixture(scope="module")
def smtp() -> Iterator[Mailbox]:
    from aiosmtpd.controller import Controller

    from tests.conftest import free_port

    box = Mailbox(free_port())

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            with box.cond:
                box.messages.append(message_from_bytes(envelope.content))
                box.cond.notify_all()
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=box.port)
    controller.start()
    yield box
    controller.stop()


@dataclass
class AlertServer:
    live: LiveServer
    clock: SimClock
    admin: str
    key: str  # ingest,read,admin for the project
    project: str

    def client(self, key: str | None = None) -> httpx.Client:
        return self.live.client(key or self.admin)

    def ingest(self, events: list[dict[str, Any]]) -> None:
        with self.live.client(self.key) as c:
            for i in range(0, len(events), 10_000):
                r = c.post("/v1/events", json={"events": events[i : i + 10_000]})
                assert r.status_code == 200, r.text[:500]

    def evaluate(self) -> dict[str, Any]:
        with self.client() as c:
            r = c.post("/v1/alerts/evaluate")
            assert r.status_code == 200, r.text
            return r.json()  # type: ignore[no-any-return]

    def run(self, until: datetime, every: timedelta) -> list[dict[str, Any]]:
        """Evaluate at every step from now to until; returns every change with its time."""
        changes = []
        while self.clock() < until:
            self.clock.advance(seconds=every.total_seconds())
            for ch in self.evaluate()["changes"]:
                changes.append({**ch, "at": self.clock()})
        return changes


def make_alert_server(tmp: Path, start: datetime, **settings: Any) -> tuple[Any, Any, AlertServer]:
    clock = SimClock(start)
    server, thread, live = start_server(
        tmp, clock=clock, alerts_interval_s=0, alerts_retry_base_s=0.05, **settings
    )
    project = "shop"
    admin = live.key(None, "admin")
    key = live.key(project, "ingest,read,admin")
    return server, thread, AlertServer(live, clock, admin, key, project)


def event(
    t: datetime,
    i: int | str,
    latency: float = 200.0,
    status: str = "success",
    prompt: str = "support",
    cost: float = 0.001,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "id": f"e-{i}",
        "timestamp": iso(t),
        "model": "gpt-4o-mini",
        "prompt_id": prompt,
        "latency_ms": latency,
        "status": status,
        "input_tokens": 100,
        "output_tokens": 20,
        "cost_usd": cost,
        **({"error_type": "timeout"} if status == "error" else {}),
        **extra,
    }


__all__ = ["T0", "AlertServer", "SimClock", "event", "make_alert_server", "stop_server"]
