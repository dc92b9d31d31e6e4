"""The jobs lease between replicas (promptpulse.meta.lease) on a real PostgreSQL: one holder at
a time, taken over once the holder stops renewing, given up at a clean shutdown; on SQLite the
one process holds it without writing anything."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from promptpulse.meta import MetaDB, leases
from promptpulse.meta.lease import Lease


@pytest.fixture
def meta(pg_url: str) -> Iterator[MetaDB]:
    db = MetaDB(pg_url)
    yield db
    db.close()


def _expire(meta: MetaDB) -> None:
    """What a holder that died looks like once its TTL has passed."""
    with meta.engine.begin() as conn:
        conn.execute(leases.update().values(expires_at=sa.func.now() - sa.text("interval '1 s'")))


def test_one_replica_holds_the_lease_at_a_time(meta: MetaDB) -> None:
    a, b, c = (Lease(meta, name, ttl_s=60) for name in ("a", "b", "c"))
    assert [x.renew() for x in (a, b, c)] == [True, False, False]
    assert [x.held() for x in (a, b, c)] == [True, False, False]
    assert a.renew() and not b.renew()  # renewing keeps it
    leader = b.leader()
    assert leader is not None and leader.holder == "a"


def test_another_replica_takes_over_an_expired_lease(meta: MetaDB) -> None:
    a, b = Lease(meta, "a", ttl_s=60), Lease(meta, "b", ttl_s=60)
    assert a.renew() and not b.renew()
    first = a.leader()
    _expire(meta)
    assert a.leader() is None  # nobody leads between expiry and the next renewal
    assert b.renew() and b.held()
    assert not a.renew() and not a.held()  # the old holder learns it lost
    now = b.leader()
    assert now is not None and first is not None
    assert now.holder == "b" and now.acquired_at is not None and first.acquired_at is not None
    assert now.acquired_at > first.acquired_at


def test_a_holder_stops_acting_when_its_ttl_may_have_run_out(meta: MetaDB) -> None:
    """It counts the TTL from before its renewal was sent: with a TTL of 0 it never acts, even
    though the database granted the renewal."""
    a = Lease(meta, "a", ttl_s=0)
    assert a.renew() is True
    assert not a.held()


def test_releasing_lets_the_next_replica_lead_at_once(meta: MetaDB) -> None:
    a, b = Lease(meta, "a", ttl_s=60), Lease(meta, "b", ttl_s=60)
    assert a.renew() and not b.renew()
    a.release()
    assert not a.held() and a.leader() is None
    assert b.renew()
    b.release()
    b.release()  # twice: nothing left to release
    with meta.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(leases)).scalar() == 0


def test_on_sqlite_the_one_process_leads_without_writing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = MetaDB(f"sqlite:///{tmp_path / 'metadata.sqlite'}")
    try:
        lease = Lease(db, "solo", ttl_s=1)
        assert lease.held() and lease.renew() and lease.held()
        leader = lease.leader()
        assert leader is not None and leader.holder == "solo"
        lease.release()
        with db.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(leases)).scalar() == 0
    finally:
        db.close()


def test_the_fence_passes_for_the_holder_and_holds_off_a_takeover(meta: MetaDB) -> None:
    """Inside a job's write: the holder passes the fence, and while that transaction is open no
    other replica can take the lease, even once it expired; after it, the takeover happens and
    the old holder's next fence refuses."""
    import threading
    import time

    from promptpulse.errors import LeaseLost

    a, b = Lease(meta, "a", ttl_s=60), Lease(meta, "b", ttl_s=60)
    assert a.renew()
    took: list[bool] = []
    with meta.engine.begin() as conn:
        a.fence(conn)  # a leads: its write goes on, the lease row locked until it commits

        def take_over() -> None:
            _expire(meta)
            took.append(b.renew())

        thread = threading.Thread(target=take_over)
        thread.start()
        time.sleep(0.5)
        assert took == []  # waiting for a's write to end
    thread.join(10)
    assert took == [True] and b.held()
    with pytest.raises(LeaseLost), meta.engine.begin() as conn:
        a.fence(conn)
    assert not a.held()  # a learnt it lost, before its next renewal
