"""The metadata database (a real PostgreSQL) goes away under a running server: reads and ingest
go on with the keys and prices it already holds, changes and unknown keys answer 503 with
Retry-After (never a 401 or a 500), and everything works again once the database is back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from promptpulse.app import create_app
from promptpulse.config import Settings
from promptpulse.meta import MetaDB, Scope, create_key, set_price
from promptpulse.model import PriceOverride
from tests.harness.pg import PostgresServer, find_bindir

pytestmark = pytest.mark.skipif(find_bindir() is None, reason="PostgreSQL is not installed")
RULE = {"name": "slow", "metric": "latency_p95_ms", "operator": ">", "threshold": 5000,
        "window": "1h"}  # fmt: skip


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A cluster of this test's own: it is stopped and started again under the server."""
    server = PostgresServer()
    yield server
    server.stop()


def _events(n: int, prefix: str) -> list[dict[str, object]]:
    now = datetime.now(UTC)
    return [{"id": f"{prefix}{i}", "timestamp": (now - timedelta(minutes=i)).isoformat(),
             "model": "house-model", "input_tokens": 1000, "output_tokens": 1000,
             "latency_ms": 100 + i} for i in range(n)]  # fmt: skip


def _overview(c: TestClient) -> dict[str, object]:
    r = c.get("/v1/metrics/overview", params={"from": "2000-01-01T00:00:00Z"})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_reads_and_ingest_survive_a_metadata_outage(
    own_postgres: PostgresServer, tmp_path: Path
) -> None:
    url = own_postgres.create_database()
    meta = MetaDB(url)
    secret = create_key(meta, "shop", frozenset({Scope.INGEST, Scope.READ, Scope.ADMIN}), "t")[1]
    set_price(meta, "shop", PriceOverride("house-model", 1.0, 2.0))  # $1 + $2 per call of 1M+1M
    meta.close()
    settings = Settings(data_dir=tmp_path / "data", metadata_url=url, alerts_interval_s=0,
                        rollup_interval_s=0, retention_interval_s=0, reports_interval_s=0,
                        lease_renew_s=0.5, lease_ttl_s=2)  # fmt: skip
    auth = {"Authorization": f"Bearer {secret}"}
    with TestClient(create_app(settings), headers=auth) as c:
        assert c.post("/v1/events", json={"events": _events(5, "a")}).status_code == 200
        assert _overview(c)["requests"] == 5
        own_postgres.halt()
        time.sleep(1.2)  # past the key cache's second: the key must be checked again, and can't
        assert _overview(c)["requests"] == 5
        series = c.get("/v1/metrics/timeseries",  # the project's custom metrics are not readable
                       params={"from": "2000-01-01T00:00:00Z", "interval": "month"})  # fmt: skip
        assert series.status_code == 200, series.text
        sent = c.post("/v1/events", json={"events": _events(3, "b")})
        assert sent.status_code == 200, sent.text  # priced with the overrides already read
        after = _overview(c)
        assert after["requests"] == 8
        assert after["cost_usd"]["total"] == pytest.approx(8 * 0.003)  # type: ignore[index]
        change = c.post("/v1/alerts/rules", json=RULE)
        assert change.status_code == 503, change.text
        assert change.headers["retry-after"] and "metadata" in change.json()["detail"]
        stranger = c.get("/v1/metrics/overview", headers={"Authorization": "Bearer pp_nope"})
        assert stranger.status_code == 503 and stranger.headers["retry-after"]
        own_postgres.resume()
        deadline = time.monotonic() + 30
        while (made := c.post("/v1/alerts/rules", json=RULE)).status_code == 503:
            assert time.monotonic() < deadline, made.text
            time.sleep(0.5)
        assert made.status_code == 201, made.text
        assert c.get("/v1/alerts/rules").json()["rules"][0]["name"] == "slow"
