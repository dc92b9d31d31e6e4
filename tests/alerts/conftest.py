"""Alerting fixtures: a simulated clock, a server of our own whose evaluator runs only on
demand, and (from tests/notify) a real HTTP receiver and a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import LiveServer, iso, start_server, stop_server
from tests.notify.conftest import Mailbox, Receiver, receiver, smtp

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


__all__ = [
    "T0",
    "AlertServer",
    "Mailbox",
    "Receiver",
    "SimClock",
    "event",
    "make_alert_server",
    "receiver",
    "smtp",
    "stop_server",
]
