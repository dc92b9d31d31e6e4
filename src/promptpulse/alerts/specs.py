"""CRUD for objects kept as a validated JSON spec (budgets, SLOs): one table shape (defined in
promptpulse.meta), one code."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel, ValidationError

from promptpulse.alerts import tables as t
from promptpulse.alerts.repo import new_id
from promptpulse.errors import Invalid, NotFound, invalid

log = logging.getLogger("promptpulse.alerts")

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Record(Generic[M]):
    id: str
    spec: M
    created_at: datetime
    updated_at: datetime

    def public(self) -> dict[str, Any]:
        shown = getattr(self.spec, "public", None)
        body = shown() if callable(shown) else self.spec.model_dump(by_alias=True)
        return {
            "id": self.id,
            **body,
            "created_at": t.iso(self.created_at),
            "updated_at": t.iso(self.updated_at),
        }


def _name(spec: Any) -> str:
    return str(spec.name)


def _project(spec: Any) -> str | None:
    return getattr(spec, "project", None)


class SpecRepo(Generic[M]):
    def __init__(self, table: sa.Table, model: type[M], prefix: str, what: str) -> None:
        self.table, self.model, self.prefix, self.what = table, model, prefix, what

    def _from(self, row: Any) -> Record[M]:
        return Record(
            row.id,
            self.model.model_validate_json(row.spec),
            t.aware(row.created_at),
            t.aware(row.updated_at),
        )

    def list(self, engine: sa.Engine, project: str | None = None) -> list[Record[M]]:
        """Every stored object that still validates. One stored by an older version under rules
        since tightened (a period from year 1) is logged and left out, so that it can break
        neither the list nor an alert round; it can still be replaced (PUT) or deleted."""
        q = sa.select(self.table).order_by(self.table.c.project, self.table.c.name)
        if project is not None:
            q = q.where(self.table.c.project == project)
        out: list[Record[M]] = []
        with engine.connect() as conn:
            for row in conn.execute(q):
                try:
                    out.append(self._from(row))
                except ValidationError as exc:
                    log.warning("%s %s no longer validates, skipped: %s", self.what, row.id, exc)
        return out

    def _row(self, engine: sa.Engine, oid: str, project: str | None) -> Any:
        with engine.connect() as conn:
            row = conn.execute(sa.select(self.table).where(self.table.c.id == oid)).first()
        if row is None or (project is not None and row.project != project):
            raise NotFound(f"no {self.what} {oid}")
        return row

    def get(self, engine: sa.Engine, oid: str, project: str | None = None) -> Record[M]:
        row = self._row(engine, oid, project)
        try:
            return self._from(row)
        except ValidationError as exc:
            raise Invalid(
                f"{self.what} {oid} was stored under older rules and no longer validates; "
                f"replace it (PUT) or delete it: {exc.errors()[0]['msg']}",
                [],
            ) from None

    def channels(self, engine: sa.Engine, oid: str) -> tuple[Any, ...]:
        """Where an object's alerts go; none when it was deleted meanwhile."""
        try:
            return tuple(getattr(self.get(engine, oid).spec, "channels", ()))
        except NotFound:
            return ()

    def _clash(self, engine: sa.Engine, spec: M, oid: str | None) -> None:
        project = _project(spec)
        for rec in self.list(engine, project):
            if _name(rec.spec) == _name(spec) and rec.id != oid and _project(rec.spec) == project:
                raise invalid("name", f"a {self.what} named '{_name(spec)}' already exists")

    def create(self, engine: sa.Engine, spec: M, now: datetime) -> Record[M]:
        self._clash(engine, spec, None)
        oid = new_id(self.prefix)
        with engine.begin() as conn:
            conn.execute(
                self.table.insert().values(
                    id=oid,
                    project=_project(spec),
                    name=_name(spec),
                    spec=spec.model_dump_json(by_alias=True),
                    created_at=t.naive(now),
                    updated_at=t.naive(now),
                )
            )
        return Record(oid, spec, now, now)

    def update(
        self, engine: sa.Engine, oid: str, spec: M, now: datetime, project: str | None = None
    ) -> Record[M]:
        old = self._row(engine, oid, project)
        self._clash(engine, spec, oid)
        with engine.begin() as conn:
            conn.execute(
                self.table.update()
                .where(self.table.c.id == oid)
                .values(
                    project=_project(spec),
                    name=_name(spec),
                    spec=spec.model_dump_json(by_alias=True),
                    updated_at=t.naive(now),
                )
            )
        return Record(oid, spec, t.aware(old.created_at), now)

    def delete(self, engine: sa.Engine, oid: str, project: str | None = None) -> None:
        self._row(engine, oid, project)
        with engine.begin() as conn:
            conn.execute(self.table.delete().where(self.table.c.id == oid))
