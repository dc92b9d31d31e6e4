"""Annotations a project records (deployments, config changes, prompt changes, notes): validated
before anything is written, stored in the metadata table `annotations`, read by range.

An annotation may name a prompt, a model and an environment: it then concerns that slice only,
and a read filtered to another prompt (model, environment) does not show it; one that names
none concerns the whole project.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from promptpulse.errors import FieldError, Invalid, NotFound
from promptpulse.meta import annotations_table as table
from promptpulse.model import TIME_CEILING, TIME_FLOOR

KINDS = ("deploy", "config", "prompt", "note")
FILTER_FIELDS = ("prompt_id", "model", "environment")
EARLIEST, LATEST = TIME_FLOOR, TIME_CEILING  # the bounds of every time the API takes
MAX_TITLE = 200
MAX_DESCRIPTION = 2000
MAX_FILTER = 200


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class AnnotationSpec:
    """What users write; `filters` names the slice it concerns (FILTER_FIELDS only)."""

    time: datetime
    kind: str
    title: str
    description: str = ""
    filters: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Annotation:
    id: str
    project: str
    spec: AnnotationSpec
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "time": iso(self.spec.time),
            "kind": self.spec.kind,
            "title": self.spec.title,
            "description": self.spec.description,
            "source": "manual",
            "project": self.project,
        }
        out.update({k: v for k, v in self.spec.filters.items() if v is not None})
        return out


def validate(spec: AnnotationSpec) -> list[FieldError]:
    """Every wrong field (empty when the spec may be stored)."""
    errors: list[FieldError] = []
    t = spec.time
    if t.tzinfo is None:
        errors.append(
            FieldError("time", "needs a UTC offset (RFC 3339), e.g. 2026-01-31T12:00:00Z")
        )
    elif not EARLIEST <= t < LATEST:
        errors.append(FieldError("time", "must be in the years 2000 to 2099"))
    if spec.kind not in KINDS:
        errors.append(FieldError("kind", f"one of {', '.join(KINDS)}"))
    if not spec.title.strip():
        errors.append(FieldError("title", "must not be empty"))
    elif len(spec.title) > MAX_TITLE:
        errors.append(FieldError("title", f"at most {MAX_TITLE} characters"))
    if len(spec.description) > MAX_DESCRIPTION:
        errors.append(FieldError("description", f"at most {MAX_DESCRIPTION} characters"))
    for name, text in (("title", spec.title), ("description", spec.description)):
        if "\x00" in text:  # PostgreSQL cannot store it; refused on both engines alike
            errors.append(FieldError(name, "must not contain NUL characters"))
    for name, value in spec.filters.items():
        where = f"filters.{name}"
        if value is not None and "\x00" in value:
            errors.append(FieldError(where, "must not contain NUL characters"))
        elif name not in FILTER_FIELDS:
            errors.append(FieldError(where, f"unknown filter; one of {', '.join(FILTER_FIELDS)}"))
        elif value is not None and not (0 < len(value) <= MAX_FILTER):
            errors.append(FieldError(where, f"1 to {MAX_FILTER} characters"))
    return errors


def create(engine: sa.Engine, project: str, spec: AnnotationSpec, now: datetime) -> Annotation:
    """Stored whole, or (Invalid naming every wrong field) not at all."""
    errors = validate(spec)
    if errors:
        raise Invalid("; ".join(f"{e.field}: {e.message}" for e in errors), errors)
    spec = AnnotationSpec(
        spec.time.astimezone(UTC),
        spec.kind,
        spec.title.strip(),
        spec.description,
        {k: v for k, v in spec.filters.items() if v is not None},
    )
    rec = Annotation(f"ann_{secrets.token_hex(8)}", project, spec, now)
    with engine.begin() as conn:
        conn.execute(
            table.insert().values(
                id=rec.id,
                project=project,
                time=spec.time,
                kind=spec.kind,
                title=spec.title,
                description=spec.description,
                created_at=now,
                **{k: spec.filters.get(k) for k in FILTER_FIELDS},
            )
        )
    return rec


def _record(row: Any) -> Annotation:
    filters = {k: getattr(row, k) for k in FILTER_FIELDS if getattr(row, k) is not None}
    spec = AnnotationSpec(row.time, row.kind, row.title, row.description, filters)
    return Annotation(row.id, row.project, spec, row.created_at)


def list_in(
    engine: sa.Engine,
    projects: Sequence[str] | None,
    start: datetime,
    end: datetime,
    filters: Mapping[str, Sequence[str]] | None = None,
) -> list[Annotation]:
    """Annotations in [start, end) of the projects (None: every project) that concern the
    slice: for each of FILTER_FIELDS asked, those naming one of its values or none at all."""
    query = sa.select(table).where(table.c.time >= start, table.c.time < end)
    if projects is not None:
        query = query.where(table.c.project.in_(list(projects)))
    for name, values in (filters or {}).items():
        if name in FILTER_FIELDS:
            column = table.c[name]
            query = query.where(sa.or_(column.is_(None), column.in_(list(values))))
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(table.c.time, table.c.id)).all()
    return [_record(r) for r in rows]


def delete(engine: sa.Engine, oid: str, project: str | None) -> None:
    """Delete one; NotFound when it does not exist or belongs to another project than the key's."""
    where = table.c.id == oid
    if project is not None:
        where = sa.and_(where, table.c.project == project)
    with engine.begin() as conn:
        if conn.execute(table.delete().where(where)).rowcount == 0:
            raise NotFound(f"no annotation '{oid}'")
