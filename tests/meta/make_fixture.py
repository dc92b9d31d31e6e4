"""How tests/meta/fixtures/metadata-v1.sqlite was made: a metadata database written by the
server as it was before the metadata tables were gathered in `promptpulse.meta` (schema
version 1, each feature creating its own tables at start-up).

It starts the real app (every feature creates its tables the way the running server does),
creates through the HTTP API one or more realistic rows in every table (keys, a price override,
alert rules, alerts fired by an evaluation round with their events and webhook deliveries, an
acknowledgement, a silence, a budget, an SLO, an experiment with exposures, a report schedule
that has run, a retention policy), then copies the SQLite file to the path given and prints
what tests/meta/test_migrations.py checks (the key secrets are printed: the test keeps them).

    PYTHONPATH=src python tests/meta/make_fixture.py tests/meta/fixtures/metadata-v1.sqlite

Run against the code of commit f2b75d5 (branch wt-meta, before the tables moved). Run today,
it writes a database of the current schema instead, which is not what the fixture is for.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from promptpulse.app import create_app
from promptpulse.config import Settings
from promptpulse.meta import MetaDB, Scope, create_key, revoke_key

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday
PROJECT = "shop"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _receiver() -> tuple[ThreadingHTTPServer, str]:
    """A webhook receiver that answers 200 to every POST."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/hook"


def _events() -> list[dict[str, Any]]:
    """An hour of calls of which a quarter of checkout's fail, costing more than the budget."""
    out = []
    for i in range(40):
        failing = i % 4 == 0
        out.append(
            {
                "id": f"fx-{i}",
                "timestamp": _iso(NOW - timedelta(minutes=50) + timedelta(minutes=i)),
                "model": "gpt-4o-mini",
                "prompt_id": "checkout",
                "prompt_version": "v1" if i % 2 else "v2",
                "user_id": f"u{i % 5}",
                "latency_ms": 300 + i,
                "status": "error" if failing else "success",
                **({"error_type": "timeout"} if failing else {}),
                "input_tokens": 100,
                "output_tokens": 20,
                "cost_usd": 0.01,
            }
        )
    return out


def _ok(r: Any, code: int = 200) -> Any:
    assert r.status_code == code, (r.request.method, r.request.url, r.status_code, r.text)
    return r.json() if r.content else None


def _keys(meta: MetaDB) -> dict[str, str]:
    _, admin = create_key(meta, None, frozenset({Scope.ADMIN}), "fixture admin")
    everything = frozenset({Scope.INGEST, Scope.READ, Scope.ADMIN})
    _, project = create_key(meta, PROJECT, everything, "shop ops")
    old, _ = create_key(meta, PROJECT, frozenset({Scope.READ}), "old read key")
    revoke_key(meta, old.id)
    return {"admin": admin, "project": project}


def _alerting(c: TestClient, hook: str, admin: dict[str, str]) -> None:
    rule = {
        "name": "checkout errors", "metric": "error_rate", "operator": ">", "threshold": 0.05,
        "window": "1h", "for": "0s", "min_requests": 5, "severity": "critical",
        "filters": {"prompt_id": "checkout"}, "labels": {"team": "payments"},
        "channels": [{"type": "webhook", "url": hook, "secret": "fixture-hmac-secret"}],
    }  # fmt: skip
    _ok(c.post("/v1/alerts/rules", json=rule), 201)
    off = {"name": "traffic drop", "template": "traffic_drop", "enabled": False}
    _ok(c.post("/v1/alerts/rules", json=off), 201)
    budget = {"name": "shop monthly", "amount": 0.05, "period": "month"}
    _ok(c.post("/v1/budgets", json=budget), 201)
    slo = {"name": "shop availability", "objective": 0.99, "window": "1d"}
    _ok(c.post("/v1/slos", json=slo), 201)
    changes = _ok(c.post("/v1/alerts/evaluate", headers=admin))["changes"]
    assert any(x["to"] == "firing" for x in changes), changes
    fired = _ok(c.get("/v1/alerts", params={"state": "firing"}))["alerts"]
    rule_alert = next(a for a in fired if a["name"] == "checkout errors")
    note = {"note": "looking at the payment provider", "by": "alice"}
    _ok(c.post(f"/v1/alerts/{rule_alert['id']}/acknowledge", json=note))
    silence = {
        "matchers": {"severity": "warning"},
        "ends_at": _iso(NOW + timedelta(days=2)),
        "comment": "maintenance window",
    }
    _ok(c.post("/v1/alerts/silences", json=silence), 201)


def _experiment(c: TestClient) -> None:
    body = {
        "name": "checkout v2",
        "hypothesis": "v2 fails less for the same cost",
        "variants": [{"filter": "prompt_version=v1"}, {"filter": "prompt_version=v2"}],
        "mde": 0.05,
        "start": _iso(NOW - timedelta(days=1)),
    }
    exp = _ok(c.post("/v1/experiments", json=body), 201)
    units = [{"unit_id": f"u{i}", "timestamp": _iso(NOW - timedelta(hours=1))} for i in range(5)]
    _ok(c.post(f"/v1/experiments/{exp['id']}/exposures", json={"exposures": units}))


def _lifecycle(c: TestClient, clock: Clock, admin: dict[str, str]) -> None:
    price = {"input_per_mtok": 3, "output_per_mtok": 15, "cached_input_per_mtok": 0.3}
    _ok(c.put("/v1/prices/acme-llm-1", json=price))
    _ok(c.put(f"/v1/retention/{PROJECT}", json={"raw_days": 30, "daily_days": 730}, headers=admin))
    schedule = {
        "name": "shop daily",
        "period": "day",
        "at": "08:00",
        "channels": [{"type": "file", "dir": "daily"}],
    }
    _ok(c.post("/v1/reports/schedules", json=schedule), 201)
    clock.now = NOW + timedelta(hours=20, minutes=5)  # Tuesday 08:05: the daily report is due
    sent = _ok(c.post("/v1/reports/schedules/run", headers=admin))["sent"]
    assert sent, "the daily report was not due"


def _wait_deliveries(url: str) -> None:
    engine = sa.create_engine(url)
    deadline = time.monotonic() + 15
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            q = "SELECT count(*) FROM alert_deliveries WHERE status = 'pending'"
            if conn.execute(sa.text(q)).scalar() == 0:
                break
            time.sleep(0.1)
    engine.dispose()


def build(data_dir: Path) -> dict[str, str]:
    settings = Settings(
        data_dir=data_dir,
        alerts_interval_s=0,
        rollup_interval_s=0,
        retention_interval_s=0,
        reports_interval_s=0,
        allowed_hosts="127.0.0.1",  # its webhook receiver (ignored by the code of f2b75d5)
    )
    meta = MetaDB(settings.metadata_db_url)
    secrets = _keys(meta)
    meta.close()
    clock = Clock(NOW)
    server, hook = _receiver()
    admin = {"Authorization": f"Bearer {secrets['admin']}"}
    ops = {"Authorization": f"Bearer {secrets['project']}"}  # the project's own key by default
    with TestClient(create_app(settings, clock=clock), headers=ops) as c:
        _ok(c.post("/v1/events", json={"events": _events()}))
        _alerting(c, hook, admin)
        _experiment(c)
        _lifecycle(c, clock, admin)
        _wait_deliveries(settings.metadata_db_url)
    server.shutdown()
    server.server_close()
    return secrets


def summary(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        names = [
            r[0]
            for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY 1")
        ]
        return {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}


def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        secrets = build(Path(tmp))
        src = sqlite3.connect(Path(tmp) / "metadata.sqlite")
        src.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        out.unlink(missing_ok=True)
        src.execute("VACUUM INTO ?", (str(out),))
        src.close()
    with sqlite3.connect(out) as conn:
        conn.execute("PRAGMA journal_mode=DELETE")
    print(json.dumps({"secrets": secrets, "rows": summary(out)}, indent=2))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "tests/meta/fixtures/metadata-v1.sqlite"))
