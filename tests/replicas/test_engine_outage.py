"""ClickHouse (a real engine behind tests/harness/chfront.py, reached over HTTP like a server)
goes away under a running PromptPulse: ingest answers 503 with Retry-After and nothing of the
batch is stored, /readyz fails and says why; once the engine is back, the same batch goes in,
exactly once, and /readyz is ready again. Nothing acknowledged before is lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import free_port, start_server, stop_server
from tests.harness.replicas import start_front, wait_for

pytest.importorskip("chdb")


def _events(prefix: str, n: int) -> list[dict[str, object]]:
    now = datetime.now(UTC)
    return [{"id": f"{prefix}-{i}", "timestamp": (now - timedelta(seconds=i)).isoformat(),
             "model": "m", "latency_ms": 10 + i} for i in range(n)]  # fmt: skip


def test_ingest_says_503_while_clickhouse_is_away_and_recovers(tmp_path: Path) -> None:
    port = free_port()
    engine_dir, log = tmp_path / "ch", tmp_path / "front.log"
    front = start_front(engine_dir, port, log)
    server, thread, live = start_server(
        tmp_path / "data", store_url=f"clickhouse://127.0.0.1:{port}/default",
        alerts_interval_s=0, rollup_interval_s=0, retention_interval_s=0, reports_interval_s=0,
    )  # fmt: skip
    try:
        key = live.key("shop", "ingest,read")
        with live.client(key) as c:
            assert c.post("/v1/events", json={"events": _events("a", 50)}).status_code == 200
            front.kill()
            front.wait(timeout=30)
            down = c.post("/v1/events", json={"events": _events("b", 30)})
            assert down.status_code == 503, down.text
            assert int(down.headers["retry-after"]) > 0
            ready = c.get("/readyz")
            assert ready.status_code == 503 and "store" in ready.json()["detail"], ready.text
            front = start_front(engine_dir, port, log)  # the same engine, back on its address
            again = wait_for(
                "ingest to work again",
                lambda: (
                    (r := c.post("/v1/events", json={"events": _events("b", 30)})).status_code
                    == 200
                    and r
                ),
                60,
                0.5,
            )
            assert again.json()["accepted"] == 30
            assert c.get("/readyz").status_code == 200
            span = {"from": "2000-01-01T00:00:00Z"}
            assert c.get("/v1/metrics/overview", params=span).json()["requests"] == 80
    finally:
        stop_server(server, thread)
        live.meta.close()
        front.kill()
        front.wait(timeout=30)
