"""A project's custom metrics: stored, validated, and resolved into catalog `Metric`s.

Validation happens before anything is written (one transaction per change), so a bad formula,
an unknown score or a name taken by the catalog is a 422 naming the field and nothing is saved.
`project_metrics` is what the query layer uses to resolve `metrics=<name>`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from promptpulse.errors import FieldError, Invalid, NotFound
from promptpulse.meta.tables import custom_metrics as table
from promptpulse.model import FormulaError, Metric, custom_metric
from promptpulse.model.formula_parse import check_name

MAX_PER_PROJECT = 200
Scores = Collection[str] | None  # the score names the project has received (None: any)


@dataclass(frozen=True)
class CustomSpec:
    """What users write."""

    name: str
    formula: str
    unit: str = ""
    higher_is_better: bool | None = None
    description: str = ""


@dataclass(frozen=True)
class CustomRecord:
    project: str
    spec: CustomSpec
    created_at: datetime
    updated_at: datetime

    def metric(self) -> Metric:
        s = self.spec
        return custom_metric(s.name, s.formula, s.unit, s.higher_is_better, s.description)

    def as_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "name": self.spec.name,
            "formula": self.spec.formula,
            "unit": self.spec.unit,
            "higher_is_better": self.spec.higher_is_better,
            "description": self.spec.description,
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
            "updated_at": self.updated_at.isoformat().replace("+00:00", "Z"),
        }


def validate(spec: CustomSpec, scores: Scores = None) -> Metric:
    """The metric, or Invalid naming every wrong field."""
    errors: list[FieldError] = []
    why = check_name(spec.name)
    if why:
        errors.append(FieldError("name", why))
    if len(spec.unit) > 32:
        errors.append(FieldError("unit", "at most 32 characters"))
    if len(spec.description) > 1000:
        errors.append(FieldError("description", "at most 1000 characters"))
    metric = None
    try:
        metric = custom_metric(
            "x" if why else spec.name,
            spec.formula,
            spec.unit,
            spec.higher_is_better,
            spec.description,
            scores,
        )
    except FormulaError as exc:
        errors.append(FieldError("formula", str(exc)))
    if errors or metric is None:
        raise Invalid("; ".join(f"{e.field}: {e.message}" for e in errors), errors)
    return metric


def _record(row: Any) -> CustomRecord:
    spec = CustomSpec(row.name, row.formula, row.unit, row.higher_is_better, row.description)
    return CustomRecord(row.project, spec, row.created_at, row.updated_at)


def list_custom(engine: sa.Engine, project: str | None) -> list[CustomRecord]:
    query = sa.select(table).order_by(table.c.project, table.c.name)
    if project is not None:
        query = query.where(table.c.project == project)
    with engine.connect() as conn:
        return [_record(r) for r in conn.execute(query)]


def get_custom(engine: sa.Engine, project: str, name: str) -> CustomRecord:
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(table).where(table.c.project == project, table.c.name == name)
        ).first()
    if row is None:
        raise NotFound(f"no custom metric '{name}' in project '{project}'")
    return _record(row)


def create_custom(
    engine: sa.Engine, project: str, spec: CustomSpec, now: datetime, scores: Scores = None
) -> CustomRecord:
    validate(spec, scores)
    with engine.begin() as conn:
        where = table.c.project == project
        taken = conn.execute(sa.select(table.c.name).where(where, table.c.name == spec.name))
        if taken.first() is not None:
            raise Invalid(
                f"name: a custom metric '{spec.name}' exists already; PUT to change it",
                [FieldError("name", f"'{spec.name}' exists already in project '{project}'")],
            )
        count = conn.execute(sa.select(sa.func.count()).select_from(table).where(where)).scalar()
        if int(count or 0) >= MAX_PER_PROJECT:
            raise Invalid(
                f"name: at most {MAX_PER_PROJECT} custom metrics per project",
                [FieldError("name", f"at most {MAX_PER_PROJECT} custom metrics per project")],
            )
        conn.execute(table.insert().values(project=project, **_values(spec, now), created_at=now))
    return CustomRecord(project, spec, now, now)


def update_custom(
    engine: sa.Engine, project: str, name: str, spec: CustomSpec, now: datetime, scores: Scores
) -> CustomRecord:
    """Replace a metric's formula, unit, direction, description (its name stays)."""
    spec = CustomSpec(name, spec.formula, spec.unit, spec.higher_is_better, spec.description)
    validate(spec, scores)
    old = get_custom(engine, project, name)
    key = (table.c.project == project) & (table.c.name == name)
    with engine.begin() as conn:
        if conn.execute(table.update().where(key).values(**_values(spec, now))).rowcount == 0:
            raise NotFound(f"no custom metric '{name}' in project '{project}'")
    return CustomRecord(project, spec, old.created_at, now)


def delete_custom(engine: sa.Engine, project: str, name: str) -> None:
    with engine.begin() as conn:
        gone = conn.execute(
            table.delete().where(table.c.project == project, table.c.name == name)
        ).rowcount
    if not gone:
        raise NotFound(f"no custom metric '{name}' in project '{project}'")


def project_metrics(engine: sa.Engine, project: str | None) -> dict[str, Metric]:
    """The project's custom metrics by name (none without a project). A stored formula that no
    longer parses (a catalog metric renamed) is left out rather than failing every query."""
    if project is None:
        return {}
    out = {}
    for r in list_custom(engine, project):
        try:
            out[r.spec.name] = r.metric()
        except FormulaError:
            continue
    return out


def _values(spec: CustomSpec, now: datetime) -> dict[str, Any]:
    return {
        "name": spec.name,
        "formula": spec.formula,
        "unit": spec.unit,
        "higher_is_better": spec.higher_is_better,
        "description": spec.description,
        "updated_at": now,
    }
