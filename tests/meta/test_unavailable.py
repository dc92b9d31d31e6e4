"""PostgreSQL going away under a running server: metadata requests answer 503 with Retry-After
(never a 500 or a hang) and change nothing; the server needs no restart when it is back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from promptpulse.meta import MetaDB
from tests.conftest import InProcessApp, in_process_app
from tests.harness.pg import PostgresServer

QUIET = {"alerts_interval_s": 0, "rollup_interval_s": 0, "retention_interval_s": 0,
         "reports_interval_s": 0, "lease_renew_s": 3600}  # fmt: skip


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A server of this test's own: it is stopped and started again."""
    server = PostgresServer(durable=True)
    yield server
    server.stop()


@pytest.fixture
def running(own_postgres: PostgresServer, tmp_path: Path) -> Iterator[InProcessApp]:
    yield from in_process_app(
        tmp_path / "data", metadata_url=own_postgres.create_database(), **QUIET
    )


def test_metadata_writes_answer_503_while_postgres_is_down(
    running: InProcessApp, own_postgres: PostgresServer
) -> None:
    key = running.key("shop", "ingest,read,admin")
    budget = {"name": "monthly", "amount": 10}
    with running.client(key) as c:
        assert c.post("/v1/budgets", json=budget).status_code == 201
        own_postgres.halt()
        try:
            down = c.post("/v1/budgets", json={**budget, "name": "while down"})
            assert down.status_code == 503, down.text
            assert down.headers["content-type"] == "application/problem+json"
            assert down.headers["retry-after"] == "5"
            assert "metadata database" in down.json()["detail"]
            assert c.get("/healthz").status_code == 200
            ready = c.get("/readyz")  # the event store answers: still ready, leader unknown
            assert ready.status_code == 200 and ready.json()["leader"] is None
        finally:
            own_postgres.resume()
        again = c.post("/v1/budgets", json={**budget, "name": "after"})
        assert again.status_code == 201, again.text
        names = sorted(b["name"] for b in c.get("/v1/budgets").json()["budgets"])
    assert names == ["after", "monthly"]  # nothing of the failed request was kept
    assert isinstance(running.meta, MetaDB)
