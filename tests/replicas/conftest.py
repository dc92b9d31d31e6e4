"""Replicas as real processes over one real PostgreSQL (tests/harness/): started per test,
stopped (or already killed) at its end."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from promptpulse.meta import MetaDB, Scope, create_key
from tests.harness.replicas import Replica, free_port, start_front, start_replica

# Short enough that a takeover takes seconds here; production keeps the 15 s default.
FAST_LEASE = {"lease_ttl_s": 2.0, "lease_renew_s": 0.3}
# The tests' webhook receivers listen on loopback, which the SSRF guard refuses unless allowed.
QUIET = {
    "rollup_interval_s": 0,
    "retention_interval_s": 0,
    "reports_interval_s": 0,
    "allowed_hosts": "127.0.0.1",
}


@pytest.fixture
def shared_meta(pg_url: str) -> Iterator[MetaDB]:
    """The metadata database the replicas share, migrated, open in the test too."""
    db = MetaDB(pg_url)
    yield db
    db.close()


@pytest.fixture
def admin_key(shared_meta: MetaDB) -> str:
    return create_key(shared_meta, None, frozenset({Scope.ADMIN}), "replica tests")[1]


@pytest.fixture
def replicas(shared_meta: MetaDB, tmp_path: Path) -> Iterator[Callable[..., list[Replica]]]:
    """`replicas(n, **settings)`: n replicas named r0..r{n-1}, each on its own data directory."""
    started: list[Replica] = []
    url = shared_meta.engine.url.render_as_string(hide_password=False)

    def start(n: int, **settings: object) -> list[Replica]:
        made = [
            start_replica(f"r{len(started) + i}", tmp_path / f"r{len(started) + i}", url,
                          **{**FAST_LEASE, **QUIET, **settings})
            for i in range(n)
        ]  # fmt: skip
        started.extend(made)
        return made

    yield start
    for r in started:
        r.stop()


@pytest.fixture
def front(tmp_path: Path) -> Iterator[str]:
    """One ClickHouse engine (chdb behind the HTTP front, its own process) that every replica of
    the test reaches like a server: its store URL."""
    port = free_port()
    proc = start_front(tmp_path / "chdb", port, tmp_path / "front.log")
    yield f"clickhouse://default@127.0.0.1:{port}/default"
    proc.kill()
    proc.wait(timeout=30)
