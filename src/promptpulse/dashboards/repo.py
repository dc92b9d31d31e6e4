"""Dashboards in the metadata database (`promptpulse.meta.dashboards`): one row each, the
validated JSON kept whole. Every write is one statement in one transaction: all or nothing."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from promptpulse.dashboards.spec import DashboardIn
from promptpulse.errors import NotFound
from promptpulse.meta import dashboards as table


@dataclass(frozen=True)
class Dashboard:
    id: str
    project: str
    spec: DashboardIn
    created_by: str | None
    created_at: datetime
    updated_at: datetime

    def public(self) -> dict[str, Any]:
        """The stored dashboard as answered: its JSON (which create and replace accept as it
        is) and the server's own fields."""
        return {
            "id": self.id,
            "project": self.project,
            **self.spec.public(),
            "created_by": self.created_by,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
        }


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _from(row: Any) -> Dashboard:
    return Dashboard(
        row.id,
        row.project,
        DashboardIn.model_validate_json(row.body),
        row.created_by,
        row.created_at,
        row.updated_at,
    )


def list_all(engine: sa.Engine, project: str | None) -> list[Dashboard]:
    """A project's dashboards by name (every project's for None: an admin key)."""
    q = sa.select(table).order_by(table.c.project, table.c.name, table.c.id)
    if project is not None:
        q = q.where(table.c.project == project)
    with engine.connect() as conn:
        return [_from(row) for row in conn.execute(q)]


def get(engine: sa.Engine, oid: str, project: str | None) -> Dashboard:
    with engine.connect() as conn:
        row = conn.execute(sa.select(table).where(table.c.id == oid)).first()
    if row is None or (project is not None and row.project != project):
        raise NotFound(f"no dashboard {oid}")
    return _from(row)


def create(
    engine: sa.Engine, project: str, spec: DashboardIn, created_by: str | None, now: datetime
) -> Dashboard:
    oid = f"dsh_{secrets.token_hex(8)}"
    with engine.begin() as conn:
        conn.execute(
            table.insert().values(
                id=oid,
                project=project,
                name=spec.name,
                body=orjson.dumps(spec.public()).decode(),
                created_by=created_by,
                created_at=now,
                updated_at=now,
            )
        )
    return Dashboard(oid, project, spec, created_by, now, now)


def replace(
    engine: sa.Engine, oid: str, project: str | None, spec: DashboardIn, now: datetime
) -> Dashboard:
    """The dashboard's JSON replaced whole; its id, project and creator stay."""
    old = get(engine, oid, project)
    with engine.begin() as conn:
        done = conn.execute(
            table.update()
            .where(table.c.id == oid)
            .values(
                name=spec.name,
                body=orjson.dumps(spec.public()).decode(),
                updated_at=now,
            )
        )
    if done.rowcount == 0:  # deleted meanwhile
        raise NotFound(f"no dashboard {oid}")
    return Dashboard(oid, old.project, spec, old.created_by, old.created_at, now)


def delete(engine: sa.Engine, oid: str, project: str | None) -> None:
    get(engine, oid, project)
    with engine.begin() as conn:
        conn.execute(table.delete().where(table.c.id == oid))
