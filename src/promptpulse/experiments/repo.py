"""Experiments and exposures in the metadata database (their tables are in promptpulse.meta).

An experiment's variants are each a filter on one dimension (`prompt_version=v2`) with a weight;
the first variant is the control. Exposures record which variant a unit (user or session) was
first assigned; the first exposure sticks.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from promptpulse.errors import FieldError, Invalid, NotFound
from promptpulse.experiments.compare import DEFAULT_GUARDRAILS, DEFAULT_PRIMARY, check_metrics
from promptpulse.meta import MetaDB, experiments, project_metrics
from promptpulse.meta import experiment_exposures as exposures
from promptpulse.model import Metric, is_dimension
from promptpulse.sdk.assign import assign

KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,99}$")
STATUSES = ("running", "stopped")


@dataclass(frozen=True)
class Variant:
    name: str
    value: str  # the value of the experiment's dimension that identifies its calls
    weight: float


@dataclass(frozen=True)
class Experiment:
    id: str
    project: str
    key: str
    name: str
    hypothesis: str | None
    dimension: str
    variants: tuple[Variant, ...]
    primary_metric: str = DEFAULT_PRIMARY
    direction: str | None = None
    guardrails: tuple[str, ...] = DEFAULT_GUARDRAILS
    mde: float | None = None
    alpha: float = 0.05
    power: float = 0.8
    start: datetime = field(default_factory=lambda: datetime.now(UTC))
    end: datetime | None = None
    status: str = "running"
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def split(self) -> list[tuple[str, float]]:
        return [(v.name, v.weight) for v in self.variants]

    def assign(self, unit_id: str) -> str:
        return assign(self.key, unit_id, self.split)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project": self.project,
            "key": self.key,
            "name": self.name,
            "hypothesis": self.hypothesis,
            "dimension": self.dimension,
            "variants": [
                {"name": v.name, "filter": f"{self.dimension}={v.value}", "weight": v.weight}
                for v in self.variants
            ],
            "control": self.variants[0].name,
            "primary_metric": self.primary_metric,
            "direction": self.direction,
            "guardrails": list(self.guardrails),
            "mde": self.mde,
            "alpha": self.alpha,
            "power": self.power,
            "start": _iso(self.start),
            "end": _iso(self.end) if self.end else None,
            "status": self.status,
            "created_at": _iso(self.created_at),
        }


def _iso(t: datetime) -> str:
    return _utc(t).isoformat().replace("+00:00", "Z")


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def parse_variant_filter(text: str) -> tuple[str, str]:
    dim, sep, value = text.partition("=")
    if not sep or not dim.strip() or not value.strip():
        raise ValueError("a variant filter looks like prompt_version=v2")
    if not is_dimension(dim.strip()):
        raise ValueError(f"'{dim.strip()}' is not a dimension")
    return dim.strip(), value.strip()


def validate(exp: Experiment, custom: Mapping[str, Metric] | None = None) -> Experiment:
    """Every rule an experiment must keep, named by field. `custom`: the project's custom
    metrics, which may be the primary metric or guardrails."""
    errors: list[FieldError] = []
    if not KEY_PATTERN.match(exp.key):
        errors.append(
            FieldError("key", "1-100 letters, digits and _.:- starting with a letter or digit")
        )
    if not exp.name.strip() or len(exp.name) > 200:
        errors.append(FieldError("name", "must be 1 to 200 characters"))
    if len(exp.variants) < 2:
        errors.append(FieldError("variants", "give at least two; the first is the control"))
    names = [v.name for v in exp.variants]
    values = [v.value for v in exp.variants]
    if len(set(names)) != len(names) or len(set(values)) != len(values):
        errors.append(FieldError("variants", "variant names and filter values must be unique"))
    if any(not v.name or len(v.name) > 100 for v in exp.variants):
        errors.append(FieldError("variants", "variant names must be 1 to 100 characters"))
    if any(not (v.weight > 0) or v.weight == float("inf") for v in exp.variants):
        errors.append(FieldError("variants", "weights must be positive and finite"))
    if exp.direction not in (None, "higher", "lower"):
        errors.append(FieldError("direction", "higher or lower"))
    check_metrics(
        exp.primary_metric,
        exp.guardrails,
        exp.direction if exp.direction in ("higher", "lower") else None,
        errors,
        custom,
    )
    if exp.mde is not None and not exp.mde > 0:
        errors.append(FieldError("mde", "must be positive, in the primary metric's unit"))
    if not 0 < exp.alpha < 0.5:
        errors.append(FieldError("alpha", "must be between 0 and 0.5"))
    if not 0 < exp.power < 1:
        errors.append(FieldError("power", "must be between 0 and 1"))
    if exp.end is not None and _utc(exp.end) <= _utc(exp.start):
        errors.append(FieldError("end", "must be after start"))
    if exp.status not in STATUSES:
        errors.append(FieldError("status", "running or stopped"))
    if errors:
        raise Invalid("; ".join(f"{e.field}: {e.message}" for e in errors), errors)
    return exp


def _from_row(r: Any) -> Experiment:
    return Experiment(
        id=r.id,
        project=r.project,
        key=r.key,
        name=r.name,
        hypothesis=r.hypothesis,
        dimension=r.dimension,
        variants=tuple(
            Variant(v["name"], v["value"], float(v["weight"])) for v in json.loads(r.variants)
        ),
        primary_metric=r.primary_metric,
        direction=r.direction,
        guardrails=tuple(json.loads(r.guardrails)),
        mde=r.mde,
        alpha=r.alpha,
        power=r.power,
        start=_utc(r.start),
        end=_utc(r.end) if r.end else None,
        status=r.status,
        created_at=_utc(r.created_at),
    )


def _values(exp: Experiment) -> dict[str, Any]:
    return {
        "project": exp.project,
        "key": exp.key,
        "name": exp.name,
        "hypothesis": exp.hypothesis,
        "dimension": exp.dimension,
        "variants": json.dumps([asdict(v) for v in exp.variants]),
        "primary_metric": exp.primary_metric,
        "direction": exp.direction,
        "guardrails": json.dumps(list(exp.guardrails)),
        "mde": exp.mde,
        "alpha": exp.alpha,
        "power": exp.power,
        "start": _utc(exp.start),
        "end": _utc(exp.end) if exp.end else None,
        "status": exp.status,
    }


def create(meta: MetaDB, exp: Experiment) -> Experiment:
    exp = validate(
        replace(exp, id=exp.id or secrets.token_hex(8)), project_metrics(meta.engine, exp.project)
    )
    with meta.engine.begin() as conn:
        taken = conn.execute(
            sa.select(experiments.c.id).where(
                experiments.c.project == exp.project, experiments.c.key == exp.key
            )
        ).first()
        if taken:
            raise Invalid(
                f"key: '{exp.key}' is taken in project {exp.project}",
                [FieldError("key", f"'{exp.key}' is already an experiment here")],
            )
        conn.execute(
            experiments.insert().values(id=exp.id, created_at=_utc(exp.created_at), **_values(exp))
        )
    return exp


def get(meta: MetaDB, ref: str, project: str | None) -> Experiment:
    """By id, or by key within `project` (None: any project, for admin keys)."""
    with meta.engine.connect() as conn:
        rows = conn.execute(
            sa.select(experiments).where(sa.or_(experiments.c.id == ref, experiments.c.key == ref))
        ).fetchall()
    found = [r for r in rows if project is None or r.project == project]
    by_id = [r for r in found if r.id == ref]
    if by_id:
        return _from_row(by_id[0])
    if len(found) == 1:
        return _from_row(found[0])
    if len(found) > 1:
        raise Invalid(
            f"'{ref}' is an experiment key in several projects; use its id",
            [FieldError("id", "ambiguous key: use the experiment's id")],
        )
    raise NotFound(f"no experiment '{ref}'")


def list_all(meta: MetaDB, project: str | None) -> list[Experiment]:
    query = sa.select(experiments).order_by(experiments.c.created_at.desc(), experiments.c.id)
    if project is not None:
        query = query.where(experiments.c.project == project)
    with meta.engine.connect() as conn:
        return [_from_row(r) for r in conn.execute(query)]


def update(meta: MetaDB, exp: Experiment, changes: dict[str, Any]) -> Experiment:
    """Change the fields that may change while it runs; variants and key are fixed (changing
    them would reshuffle units already assigned)."""
    fixed = {"key", "variants", "dimension", "id", "project"} & set(changes)
    if fixed:
        raise Invalid(
            f"{', '.join(sorted(fixed))} cannot change; create a new experiment",
            [FieldError(f, "cannot change once created") for f in sorted(fixed)],
        )
    if "guardrails" in changes:
        changes["guardrails"] = tuple(changes["guardrails"])
    new = validate(replace(exp, **changes), project_metrics(meta.engine, exp.project))
    with meta.engine.begin() as conn:
        conn.execute(experiments.update().where(experiments.c.id == exp.id).values(**_values(new)))
    return new


def delete(meta: MetaDB, exp: Experiment) -> None:
    with meta.engine.begin() as conn:
        conn.execute(exposures.delete().where(exposures.c.experiment_id == exp.id))
        conn.execute(experiments.delete().where(experiments.c.id == exp.id))


@dataclass(frozen=True)
class Exposure:
    unit_id: str
    variant: str | None = None  # None: the server assigns it
    timestamp: datetime | None = None


def record_exposures(
    meta: MetaDB, exp: Experiment, items: Sequence[Exposure], now: datetime
) -> dict[str, Any]:
    """Store first exposures; a unit already exposed keeps its first variant."""
    names = {v.name for v in exp.variants}
    errors = [
        FieldError(f"exposures.{i}.variant", f"'{e.variant}' is not a variant of {exp.key}")
        for i, e in enumerate(items)
        if e.variant is not None and e.variant not in names
    ]
    errors += [
        FieldError(f"exposures.{i}.unit_id", "must be 1 to 200 characters")
        for i, e in enumerate(items)
        if not 0 < len(e.unit_id) <= 200
    ]
    if errors:
        raise Invalid("; ".join(f"{e.field}: {e.message}" for e in errors), errors)
    rows: dict[str, dict[str, Any]] = {}
    for e in items:
        rows.setdefault(
            e.unit_id,
            {
                "experiment_id": exp.id,
                "unit_id": e.unit_id,
                "variant": e.variant or exp.assign(e.unit_id),
                "first_seen": _utc(e.timestamp or now),
            },
        )
    with meta.engine.begin() as conn:
        existing = {
            r[0]
            for r in conn.execute(
                sa.select(exposures.c.unit_id).where(
                    exposures.c.experiment_id == exp.id, exposures.c.unit_id.in_(list(rows))
                )
            )
        }
        fresh = [r for u, r in rows.items() if u not in existing]
    try:
        if fresh:
            with meta.engine.begin() as conn:
                conn.execute(exposures.insert(), fresh)
    except sa.exc.IntegrityError:  # a concurrent request exposed some of them first
        kept = []
        for r in fresh:
            try:
                with meta.engine.begin() as conn:
                    conn.execute(exposures.insert(), [r])
                kept.append(r)
            except sa.exc.IntegrityError:
                continue
        fresh = kept
    return {"recorded": len(fresh), "already_exposed": len(items) - len(fresh)}


def exposure_counts(meta: MetaDB, exp: Experiment) -> dict[str, int]:
    with meta.engine.connect() as conn:
        rows = conn.execute(
            sa.select(exposures.c.variant, sa.func.count())
            .where(exposures.c.experiment_id == exp.id)
            .group_by(exposures.c.variant)
        ).fetchall()
    return {r[0]: int(r[1]) for r in rows}
