"""The metadata database's migrations: a database written before them (fixtures/metadata-v1.sqlite,
made by make_fixture.py) reaches head with every row kept, a fresh one reaches the same schema,
opening is idempotent and atomic per step, and a database newer than the code is refused."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from promptpulse.app import create_app
from promptpulse.config import Settings
from promptpulse.errors import SchemaTooNew
from promptpulse.meta import MetaDB, metadata, verify_key
from promptpulse.meta import migrations as m

FIXTURE = Path(__file__).parent / "fixtures" / "metadata-v1.sqlite"
# Printed by make_fixture.py when it wrote the fixture: the secrets are stored only as hashes.
ADMIN_SECRET = "pp_vHQA_AjpwewYxl0O6Xp7pbWn4QdTaJNMSDWOTNO1pgw"
OPS_SECRET = "pp_LyGJHjPUnENvyVWVW_HjhiZ0-hLOlEjadQa45hMhfZ4"  # project "shop"
ROWS = {
    "alert_deliveries": 2,
    "alert_events": 7,
    "alert_rules": 2,
    "alert_silences": 1,
    "alerts": 6,
    "api_keys": 3,
    "budgets": 1,
    "experiment_exposures": 5,
    "experiments": 1,
    "price_overrides": 1,
    "report_schedules": 1,
    "retention_policies": 1,
    "schema_version": 1,
    "slos": 1,
}


@pytest.fixture(params=["sqlite", "postgresql"])
def v1(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A copy of the fixture (never the committed file: opening it migrates it); on PostgreSQL,
    a database at version 1 holding the fixture's rows."""
    path = tmp_path / "metadata.sqlite"
    shutil.copy(FIXTURE, path)
    if request.param == "sqlite":
        return f"sqlite:///{path}"
    url = str(request.getfixturevalue("pg_url"))
    copy_v1_rows(f"sqlite:///{path}", url)
    return url


@pytest.fixture
def blank(v1: str, tmp_path: Path, request: pytest.FixtureRequest) -> Callable[[], str]:
    """Fresh, empty databases on the engine of `v1`."""
    if v1.startswith("sqlite"):
        names = iter(range(1_000))
        return lambda: f"sqlite:///{tmp_path / f'blank{next(names)}' / 'metadata.sqlite'}"
    server = request.getfixturevalue("postgres")
    return lambda: str(server.create_database())


def copy_v1_rows(source: str, target: str) -> None:
    """The version-1 schema on `target` (the baseline) with every row of `source`, read and
    written through the same table definitions, so each value crosses as its Python type."""
    src, dst = sa.create_engine(source), sa.create_engine(target)
    try:
        with src.connect() as read, dst.begin() as write:
            m.apply(write, 1)
            for table in m.BASELINE_TABLES:
                if table is not metadata.tables["schema_version"]:
                    found = [dict(r._mapping) for r in read.execute(sa.select(table))]
                    if found:
                        write.execute(table.insert(), found)
            # Explicit ids leave PostgreSQL's sequence behind: later inserts would collide.
            write.execute(
                sa.text(
                    "SELECT setval(pg_get_serial_sequence('alert_events', 'id'), max(id)) "
                    "FROM alert_events HAVING count(*) > 0"
                )
            )
    finally:
        src.dispose()
        dst.dispose()


@pytest.fixture
def engines() -> Iterator[list[sa.Engine]]:
    made: list[sa.Engine] = []
    yield made
    for e in made:
        e.dispose()


def _engine(url: str, engines: list[sa.Engine]) -> sa.Engine:
    engines.append(sa.create_engine(url))
    return engines[-1]


def _made(url: str) -> str:
    """`url`, its SQLite file's directory created (SQLAlchemy does not create it)."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return url


def _open(url: str, engines: list[sa.Engine]) -> MetaDB:
    db = MetaDB(url)
    engines.append(db.engine)
    return db


def rows(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted, as the database holds it."""
    found = sa.MetaData()
    found.reflect(engine)
    with engine.connect() as conn:
        return {
            name: sorted(tuple(r) for r in conn.execute(sa.select(table)))
            for name, table in found.tables.items()
        }


def schema(engine: sa.Engine) -> dict[str, dict[str, Any]]:
    """Tables with their columns, keys, indexes and unique constraints."""
    insp = sa.inspect(engine)
    return {
        name: {
            "columns": [(c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(name)],
            "primary_key": insp.get_pk_constraint(name)["constrained_columns"],
            "indexes": sorted(_index(i) for i in insp.get_indexes(name)),
            "unique": sorted(
                (u["name"] or "", tuple(u["column_names"]))
                for u in insp.get_unique_constraints(name)
            ),
        }
        for name in sorted(insp.get_table_names())
    }


def _index(i: Any) -> tuple[Any, ...]:
    where = sorted((k, str(v)) for k, v in i.get("dialect_options", {}).items())  # partial
    return (i["name"], tuple(i["column_names"]), bool(i["unique"]), where)


def test_the_v1_fixture_reaches_head_with_every_row_kept(v1: str, engines: list[sa.Engine]) -> None:
    before = rows(_engine(v1, engines))
    assert {name: len(r) for name, r in before.items()} == ROWS
    db = _open(v1, engines)
    assert db.version == m.HEAD
    after = rows(db.engine)
    assert set(after) == set(metadata.tables)
    for name, kept in before.items():
        if name != "schema_version":
            assert after[name] == kept, name
    assert [r[0] for r in after["schema_version"]] == list(range(1, m.HEAD + 1))


def test_keys_of_the_v1_fixture_still_verify(v1: str, engines: list[sa.Engine]) -> None:
    db = _open(v1, engines)
    admin, ops = verify_key(db, ADMIN_SECRET), verify_key(db, OPS_SECRET)
    assert admin is not None and admin.project is None and admin.name == "fixture admin"
    assert ops is not None and ops.project == "shop" and ops.name == "shop ops"
    assert verify_key(db, ADMIN_SECRET[:-1] + "x") is None


def test_the_server_reads_everything_of_the_migrated_fixture(v1: str, tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        metadata_url=v1,
        alerts_interval_s=0,
        rollup_interval_s=0,
        retention_interval_s=0,
        reports_interval_s=0,
    )
    auth = {"Authorization": f"Bearer {ADMIN_SECRET}"}
    with TestClient(create_app(settings), headers=auth) as c:
        got = {p: _get(c, p) for p in PAGES}
    rules = {r["name"]: r for r in got["/v1/alerts/rules"]["rules"]}
    assert rules["checkout errors"]["threshold"] == 0.05 and not rules["traffic drop"]["enabled"]
    assert rules["checkout errors"]["channels"][0]["secret"] == "********"
    alerts = {a["name"]: a for a in got["/v1/alerts"]["alerts"]}
    assert alerts["checkout errors"]["state"] == "acknowledged"
    assert alerts["checkout errors"]["acknowledged_by"] == "alice"
    assert {d["status"] for d in got["/v1/alerts/deliveries"]["deliveries"]} == {"sent"}
    assert got["/v1/alerts/silences"]["silences"][0]["comment"] == "maintenance window"
    assert got["/v1/budgets"]["budgets"][0]["amount"] == 0.05
    assert got["/v1/slos"]["slos"][0]["objective"] == 0.99
    exp = got["/v1/experiments"]["experiments"][0]
    assert exp["name"] == "checkout v2" and exp["control"] == "v1"
    sched = got["/v1/reports/schedules"]["schedules"][0]
    assert sched["name"] == "shop daily" and sched["last_period_end"] == "2026-03-03T00:00:00Z"
    shop = got["/v1/retention"]["projects"]["shop"]["override"]
    assert shop == {"raw_days": 30, "hourly_days": None, "daily_days": 730}
    price = got["/v1/prices"]["prices"][0]
    assert (price["model"], price["input_per_mtok"], price["output_per_mtok"]) == (
        "acme-llm-1",
        3,
        15,
    )


PAGES = [
    "/v1/alerts/rules",
    "/v1/alerts",
    "/v1/alerts/deliveries",
    "/v1/alerts/silences",
    "/v1/budgets",
    "/v1/slos",
    "/v1/experiments",
    "/v1/reports/schedules",
    "/v1/retention",
    "/v1/prices",
]


def _get(c: TestClient, path: str) -> Any:
    r = c.get(path)
    assert r.status_code == 200, (path, r.text)
    return r.json()


def test_a_fresh_database_reaches_head_with_every_table(
    metadata_url: str, engines: list[sa.Engine]
) -> None:
    db = _open(metadata_url, engines)
    assert db.version == m.HEAD
    assert set(sa.inspect(db.engine).get_table_names()) == set(metadata.tables)


def test_opening_twice_changes_nothing(v1: str, engines: list[sa.Engine]) -> None:
    first = rows(_open(v1, engines).engine)
    again = _open(v1, engines)
    assert again.version == m.HEAD
    assert rows(again.engine) == first


def test_opening_a_database_at_head_writes_nothing(
    tmp_path: Path, engines: list[sa.Engine]
) -> None:
    """The CLI opens the database while the server may be writing: no lock is taken."""
    path = tmp_path / "metadata.sqlite"
    _open(f"sqlite:///{path}", engines)
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        assert _open(f"sqlite:///{path}", engines).version == m.HEAD
        assert time.monotonic() - started < 2  # no wait for the writer (busy_timeout is 5 s)
    finally:
        writer.rollback()
        writer.close()


def test_a_fresh_head_has_the_schema_of_the_migrated_fixture(
    v1: str, blank: Callable[[], str], engines: list[sa.Engine]
) -> None:
    migrated = _open(v1, engines)
    fresh = _open(blank(), engines)
    assert schema(fresh.engine) == schema(migrated.engine)


def test_the_baseline_creates_the_v1_schema(
    v1: str, blank: Callable[[], str], engines: list[sa.Engine]
) -> None:
    """Migration 1 must keep creating what the server of that time created."""
    fresh = _engine(_made(blank()), engines)
    with fresh.begin() as conn:
        m.apply(conn, 1)
    assert schema(fresh) == schema(_engine(v1, engines))


def test_a_v1_database_with_only_the_key_tables_gets_the_others(
    v1: str, engines: list[sa.Engine]
) -> None:
    """`promptpulse keys create` before the first start wrote version 1 and three tables."""
    old = _engine(v1, engines)
    found = sa.MetaData()
    found.reflect(old)
    keep = {"api_keys", "price_overrides", "schema_version"}
    found.drop_all(old, tables=[t for n, t in found.tables.items() if n not in keep])
    kept = rows(old)
    db = _open(v1, engines)
    assert db.version == m.HEAD
    assert set(sa.inspect(db.engine).get_table_names()) == set(metadata.tables)
    after = rows(db.engine)
    assert {n: after[n] for n in keep - {"schema_version"}} == {
        n: kept[n] for n in keep - {"schema_version"}
    }
    assert [v[0] for v in after["schema_version"]] == list(range(1, m.HEAD + 1))
    assert verify_key(db, OPS_SECRET) is not None


def test_a_database_newer_than_the_code_is_refused_untouched(
    v1: str, engines: list[sa.Engine]
) -> None:
    old = _engine(v1, engines)
    with old.begin() as conn:
        conn.execute(metadata.tables["schema_version"].insert().values(version=m.HEAD + 5))
    before = rows(old)
    with pytest.raises(SchemaTooNew) as err:
        MetaDB(v1)
    assert f"version {m.HEAD + 5}" in str(err.value) and f"up to {m.HEAD}" in str(err.value)
    assert rows(old) == before


def test_each_migration_is_one_transaction(
    v1: str, engines: list[sa.Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step that fails leaves neither its tables nor its version behind; one that succeeds
    is recorded and never runs again."""
    scratch = sa.Table("scratch", sa.MetaData(), sa.Column("n", sa.Integer))
    runs: list[int] = []

    def step(conn: sa.Connection) -> None:
        runs.append(1)
        scratch.create(conn)
        conn.execute(scratch.insert().values(n=1))
        if len(runs) == 1:
            raise RuntimeError("step 2 fails the first time")

    monkeypatch.setattr(m, "MIGRATIONS", (*m.MIGRATIONS, step))
    monkeypatch.setattr(m, "HEAD", len(m.MIGRATIONS))
    with pytest.raises(RuntimeError):
        MetaDB(v1)
    old = _engine(v1, engines)
    assert not sa.inspect(old).has_table("scratch")
    with old.connect() as conn:
        assert m.current_version(conn) == m.HEAD - 1
    assert _open(v1, engines).version == m.HEAD
    assert _open(v1, engines).version == m.HEAD and len(runs) == 2


def test_replicas_starting_together_migrate_once(
    metadata_url: str, engines: list[sa.Engine]
) -> None:
    """Six replicas open one fresh database at the same moment: each reaches head, and every
    step ran exactly once (PostgreSQL: the advisory lock; SQLite: BEGIN IMMEDIATE)."""
    _made(metadata_url)
    start = threading.Barrier(6)
    opened: list[MetaDB] = []
    failed: list[BaseException] = []

    def replica() -> None:
        start.wait()
        try:
            opened.append(MetaDB(metadata_url))
        except BaseException as e:
            failed.append(e)

    threads = [threading.Thread(target=replica) for _ in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    engines.extend(db.engine for db in opened)
    assert failed == []
    assert [db.version for db in opened] == [m.HEAD] * 6
    versions = rows(opened[0].engine)["schema_version"]
    assert [v[0] for v in versions] == list(range(1, m.HEAD + 1))
