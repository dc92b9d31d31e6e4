"""The metadata database: its engine, brought to the head of the migrations when opened."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from promptpulse.errors import SchemaTooNew
from promptpulse.meta import migrations
from promptpulse.meta.sealed import seal_existing, seal_with
from promptpulse.meta.tables import alert_rules, budgets, report_schedules, slos


def private_file(path: Path) -> None:
    """Create `path` (if missing) readable by its owner only: it holds keys' hashes and secrets."""
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)


# What SQLAlchemy raises when the database cannot be reached (down, restarting, network): the
# web layer answers 503 with Retry-After for these, and reads fall back to what is cached.
UNREACHABLE: tuple[type[Exception], ...] = (sa.exc.OperationalError, sa.exc.InterfaceError)


class MetaDB:
    """Opening one migrates it: the features find every table of `meta.tables` there."""

    def __init__(self, url: str, secret_keys: Sequence[str] = ()) -> None:
        """`secret_keys`: the key channel secrets are sealed with, then older keys still read
        (none: stored as plain JSON, as before)."""
        if url.startswith("sqlite:///"):
            path = Path(url.removeprefix("sqlite:///"))
            path.parent.mkdir(parents=True, exist_ok=True)
            private_file(path)
        # pre_ping: a replica outlives PostgreSQL restarts and failovers; a dead pooled
        # connection is replaced instead of failing the request that drew it.
        self.engine = sa.create_engine(url, future=True, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            self._migrate()
            seal_with(self.engine, [k for k in secret_keys if k])
            self.resealed = seal_existing(
                self.engine, [alert_rules, budgets, slos, report_schedules]
            )
        except BaseException:
            self.engine.dispose()
            raise

    @property
    def version(self) -> int:
        with self.engine.connect() as conn:
            return migrations.current_version(conn)

    def _migrate(self) -> None:
        with _migration_lock(self.engine):
            self._migrate_locked()

    def _migrate_locked(self) -> None:
        with self.engine.connect() as conn:
            found = migrations.current_version(conn)
            if found > migrations.HEAD:
                raise SchemaTooNew(
                    f"the metadata database is at schema version {found}, but this PromptPulse "
                    f"knows versions up to {migrations.HEAD}: upgrade PromptPulse to open it"
                )
            steps = migrations.pending(conn)
        for number in steps:
            with _transaction(self.engine) as conn:
                migrations.apply(conn, number)

    def close(self) -> None:
        self.engine.dispose()


# pg_advisory_lock key of the migrations (any constant; "PrPl" in ASCII): replicas that start
# at the same moment migrate one after the other, and the later ones find nothing to do.
MIGRATION_LOCK_KEY = 0x5072506C


@contextmanager
def _migration_lock(engine: sa.Engine) -> Iterator[None]:
    """On PostgreSQL, a session advisory lock held around the whole migration (reading the
    version included). SQLite needs none: each step's BEGIN IMMEDIATE serialises writers and
    `apply` skips a step another process applied meanwhile."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})


@contextmanager
def _transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """One transaction that holds DDL too. pysqlite runs DDL outside of any transaction unless
    it is left in autocommit mode and BEGIN is said by hand; IMMEDIATE also makes a second
    process that migrates at the same time wait for this one (busy_timeout)."""
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            yield conn
        return
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        with conn.begin():
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield conn


SQLITE_BUSY_MS = 30_000


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    # WAL lets the CLI write while the server reads; busy_timeout waits instead of failing:
    # 30 s, since processes starting together wait for each other's migrations (seven steps
    # each on a fresh file; 5 s ran out on a loaded 2-core machine).
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    _switch_to_wal(cur)
    cur.close()


def _switch_to_wal(cur) -> None:  # type: ignore[no-untyped-def]
    """Switching a fresh file to WAL upgrades a read lock to a write lock, and SQLite answers
    "locked" at once, without its busy handler, when another connection is mid-switch (its
    deadlock avoidance): replicas opening one new file together retried here, up to the busy
    timeout. WAL is then recorded in the file, and later connections find it already set."""
    deadline = time.monotonic() + SQLITE_BUSY_MS / 1000
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except Exception as e:  # the driver's OperationalError, which meta never imports
            if "database is locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
