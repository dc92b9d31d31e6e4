"""Retention policies: what to delete, when. Pure.

Three data classes, each kept a number of days (0: forever): raw calls, hourly rollups, daily
rollups. Server defaults come from settings; a project may override any of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta

CLASSES: dict[str, str] = {"raw_days": "raw", "hourly_days": "hour", "daily_days": "day"}


@dataclass(frozen=True)
class Policy:
    raw_days: int = 90
    hourly_days: int = 400
    daily_days: int = 1095

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def merged(self, override: Mapping[str, int | None]) -> Policy:
        return replace(self, **{k: v for k, v in override.items() if v is not None})


@dataclass(frozen=True)
class Deletion:
    data_class: str  # raw | hour | day
    before: datetime
    project: str | None  # None: every project without an override of this class
    keep_projects: tuple[str, ...] = ()


def cutoff(now: datetime, days: int) -> datetime | None:
    """Start of the oldest UTC day kept: whole days go at once; None keeps everything."""
    if days <= 0:
        return None
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=days)


def plan(
    now: datetime,
    defaults: Policy,
    overrides: Mapping[str, Mapping[str, int | None]],
    project: str | None = None,
) -> list[Deletion]:
    """The deletions that bring every project within its policy, or only `project` (its
    override where it has one, the defaults elsewhere)."""
    out: list[Deletion] = []
    if project is not None:
        effective = defaults.merged(overrides.get(project, {}))
        for field, data_class in CLASSES.items():
            before = cutoff(now, getattr(effective, field))
            if before is not None:
                out.append(Deletion(data_class, before, project))
        return out
    for field, data_class in CLASSES.items():
        special = tuple(sorted(p for p, o in overrides.items() if o.get(field) is not None))
        before = cutoff(now, getattr(defaults, field))
        if before is not None:
            out.append(Deletion(data_class, before, None, special))
        for p in special:
            days = overrides[p][field]
            assert days is not None
            before = cutoff(now, days)
            if before is not None:
                out.append(Deletion(data_class, before, p))
    return out
