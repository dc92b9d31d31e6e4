"""Retention: policies in the metadata database, applied to the store, deletions logged."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from promptpulse.config import Settings
from promptpulse.errors import invalid
from promptpulse.meta import retention_policies
from promptpulse.retention.policy import CLASSES, Policy, plan

log = logging.getLogger("promptpulse.retention")
MAX_DAYS = 36_500


def defaults(settings: Settings) -> Policy:
    return Policy(
        settings.retention_raw_days, settings.retention_hourly_days, settings.retention_daily_days
    )


class RetentionService:
    def __init__(
        self, engine: sa.Engine, store: Any, settings: Settings, clock: Callable[[], datetime]
    ) -> None:
        self.engine = engine
        self.store = store
        self.settings = settings
        self.clock = clock

    def overrides(self) -> dict[str, dict[str, int | None]]:
        with self.engine.connect() as con:
            rows = con.execute(sa.select(retention_policies)).mappings().all()
        return {r["project"]: {f: r[f] for f in CLASSES} for r in rows}

    def policies(self, project: str | None = None) -> dict[str, Any]:
        base = defaults(self.settings)
        over = self.overrides()
        shown = {p: o for p, o in over.items() if project is None or p == project}
        out: dict[str, Any] = {
            "defaults": base.as_dict(),
            "projects": {
                p: {"override": o, "effective": base.merged(o).as_dict()} for p, o in shown.items()
            },
        }
        if project is not None and project not in shown:
            out["projects"][project] = {"override": {}, "effective": base.as_dict()}
        return out

    def set_override(self, project: str, values: dict[str, int | None]) -> dict[str, Any]:
        for field, days in values.items():
            if field not in CLASSES:
                raise invalid(field, f"unknown; one of {', '.join(CLASSES)}")
            if days is not None and not 0 <= days <= MAX_DAYS:
                raise invalid(field, f"must be 0 (forever) to {MAX_DAYS} days, or null")
        row = {"project": project, **{f: values.get(f) for f in CLASSES}}
        with self.engine.begin() as con:
            con.execute(
                sa.delete(retention_policies).where(retention_policies.c.project == project)
            )
            if any(v is not None for v in values.values()):
                con.execute(sa.insert(retention_policies).values(**row))
        return self.policies(project)

    def apply(
        self, now: datetime | None = None, project: str | None = None
    ) -> list[dict[str, Any]]:
        """Delete what the policies say is too old (of every project, or of `project` only);
        log and return each deletion."""
        now = now or self.clock()
        done = []
        for d in plan(now, defaults(self.settings), self.overrides(), project):
            n = self.store.apply_retention(d.data_class, d.before, d.project, d.keep_projects)
            entry = {
                "data_class": d.data_class,
                "before": d.before.isoformat().replace("+00:00", "Z"),
                "project": d.project,
                "deleted": n,
            }
            if n:
                log.info(
                    "retention deleted %d %s rows before %s (project %s)",
                    n,
                    d.data_class,
                    entry["before"],
                    d.project or "*",
                )
            done.append(entry)
        return done

    def erase(self, project: str, user_id: str | None) -> dict[str, Any]:
        result = self.store.erase(project, user_id)
        log.info(
            "erased %s of project %s: %s",
            f"user {user_id}" if user_id else "all data",
            project,
            result,
        )
        return {"project": project, "user_id": user_id, **result}
