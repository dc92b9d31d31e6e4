"""The dashboards table arrives by its own migration, on SQLite and on a real PostgreSQL: a
database at the step before it reaches head with its rows kept, and dashboards round-trip.

The step's number is looked up (`add_dashboards`' place in MIGRATIONS), not written here: other
migrations land beside it in the same release."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from promptpulse.dashboards import parse, repo
from promptpulse.dashboards.names import metric_names
from promptpulse.meta import MetaDB, Scope, create_key, list_keys
from promptpulse.meta import migrations as m

STEP = m.MIGRATIONS.index(m.add_dashboards) + 1


def _before_dashboards(url: str) -> None:
    """The schema as it was just before the step, with one key in it."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url)
    try:
        for number in range(1, STEP):
            with engine.begin() as conn:
                m.apply(conn, number)
        with engine.connect() as conn:
            assert m.current_version(conn) == STEP - 1
            assert not sa.inspect(conn).has_table("dashboards")
    finally:
        engine.dispose()


def test_the_step_creates_only_its_table_and_dashboards_round_trip(metadata_url: str) -> None:
    _before_dashboards(metadata_url)
    engine = sa.create_engine(metadata_url)
    before = set(sa.inspect(engine).get_table_names())
    engine.dispose()
    db = MetaDB(metadata_url)  # migrates to head
    try:
        assert db.version == m.HEAD
        after = set(sa.inspect(db.engine).get_table_names())
        assert "dashboards" in after and "dashboards" not in before
        key_id = create_key(db, "shop", frozenset({Scope.READ}))[0].id
        assert [k.id for k in list_keys(db)] == [key_id]
        spec = parse(
            {"name": "ß and 雪", "range": {"from": "2026-01-01T00:00:00+05:00",
                                           "to": "2026-01-02T00:00:00Z"},
             "widgets": [{"id": "n", "type": "number", "metric": "requests",
                          "position": {"x": 0, "y": 0, "w": 3, "h": 2}}]},
            metric_names(db.engine, "shop"),
        )  # fmt: skip
        now = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
        made = repo.create(db.engine, "shop", spec, key_id, now)
        got = repo.get(db.engine, made.id, "shop")
        assert got == made and got.created_at == now and got.created_at.tzinfo is not None
        assert got.public()["range"] == {
            "from": "2025-12-31T19:00:00Z",
            "to": "2026-01-02T00:00:00Z",
        }
        assert [d.id for d in repo.list_all(db.engine, None)] == [made.id]
    finally:
        db.close()
    again = MetaDB(metadata_url)  # opening at head changes nothing
    try:
        assert again.version == m.HEAD and len(repo.list_all(again.engine, "shop")) == 1
    finally:
        again.close()
