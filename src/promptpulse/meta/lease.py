"""Which replica runs the periodic jobs: a lease row in the metadata database.

Replicas that share a PostgreSQL metadata database each try to take or renew the lease every
few seconds; the holder runs alert evaluation, retention, rollup compaction and scheduled
exports and reports, the others only serve requests. A holder that dies (kill -9, a lost
machine) stops renewing, and the first replica to renew after `expires_at` takes over.

Expiry is judged on the database's clock, so replicas' clocks need not agree. The holder
itself stops acting a little *before* its lease can expire: it counts the TTL on its own
monotonic clock from the moment it sent the renewal, which is never later than the database's
`now()` of that renewal. So two replicas never both believe they lead.

With SQLite (one process owns the data directory) the lease is held at once and never written.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from promptpulse.errors import LeaseLost
from promptpulse.meta.db import MetaDB
from promptpulse.meta.tables import leases

log = logging.getLogger("promptpulse.lease")
JOBS = "jobs"  # the one lease there is: the periodic jobs


@dataclass(frozen=True)
class Leader:
    holder: str
    expires_at: datetime | None  # None: SQLite, where the one process always leads
    acquired_at: datetime | None


class Lease:
    def __init__(self, meta: MetaDB, holder: str, ttl_s: float, name: str = JOBS) -> None:
        self.engine = meta.engine
        self.holder = holder
        self.ttl_s = ttl_s
        self.name = name
        self.shared = self.engine.dialect.name != "sqlite"
        self._held_until = -math.inf if self.shared else math.inf

    def held(self) -> bool:
        """Whether this replica may run the jobs now (as of its last renewal)."""
        return time.monotonic() < self._held_until

    def renew(self) -> bool:
        """Take the lease if it is free or expired, extend it if held; whether it is held."""
        if not self.shared:
            return True
        sent = time.monotonic()
        was = self.held()
        try:
            held = self._take_or_extend()
        except sa.exc.SQLAlchemyError as exc:  # PostgreSQL away: stop leading when time is up
            log.warning("could not renew the %s lease: %s", self.name, exc)
            return self.held()
        self._held_until = sent + self.ttl_s if held else -math.inf
        if held != was:
            log.info("%s the %s lease", "took" if held else "lost", self.name)
        return held

    def _take_or_extend(self) -> bool:
        with self.engine.begin() as conn:
            now = conn.execute(sa.select(sa.func.now())).scalar_one()
            expires = now + timedelta(seconds=self.ttl_s)
            mine_or_free = (leases.c.holder == self.holder) | (leases.c.expires_at < now)
            changed = conn.execute(
                leases.update()
                .where(leases.c.name == self.name, mine_or_free)
                .values(
                    holder=self.holder,
                    expires_at=expires,
                    acquired_at=sa.case(
                        (leases.c.holder == self.holder, leases.c.acquired_at), else_=now
                    ),
                )
            ).rowcount
        if changed:
            return True
        try:  # no row yet: the first replica ever creates it
            with self.engine.begin() as conn:
                values = {"holder": self.holder, "expires_at": expires, "acquired_at": now}
                conn.execute(leases.insert().values(name=self.name, **values))
            return True
        except sa.exc.IntegrityError:  # it exists and another replica holds it
            return False

    def fence(self, conn: sa.Connection) -> None:
        """Inside a periodic job's write transaction: raise LeaseLost unless this replica holds
        the lease by the database's clock. The lease row stays locked until that transaction
        ends, so no replica takes over in between: a round that outlived its lease (a stall,
        a long query) writes nothing, and notifies nobody twice."""
        if not self.shared:
            return
        c = leases.c
        held = conn.execute(
            sa.select(c.holder)
            .where(c.name == self.name, c.holder == self.holder, c.expires_at > sa.func.now())
            .with_for_update()
        ).first()
        if held is None:
            self._held_until = -math.inf
            raise LeaseLost(f"{self.holder} no longer holds the {self.name} lease")

    def release(self) -> None:
        """Give the lease up at a clean shutdown, so that another replica leads at once."""
        self._held_until = -math.inf if self.shared else self._held_until
        if not self.shared:
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    leases.delete().where(
                        leases.c.name == self.name, leases.c.holder == self.holder
                    )
                )
        except sa.exc.SQLAlchemyError as exc:
            log.warning("could not release the %s lease: %s", self.name, exc)

    def leader(self) -> Leader | None:
        """The replica holding the lease now, by the database's clock (None: nobody, or the
        database cannot be asked: /readyz keeps answering, the event store decides it)."""
        if not self.shared:
            return Leader(self.holder, None, None)
        try:
            with self.engine.connect() as conn:
                row = conn.execute(
                    sa.select(leases).where(
                        leases.c.name == self.name, leases.c.expires_at > sa.func.now()
                    )
                ).first()
        except sa.exc.SQLAlchemyError as exc:
            log.warning("could not read the %s lease: %s", self.name, exc)
            return None
        return Leader(row.holder, row.expires_at, row.acquired_at) if row else None
