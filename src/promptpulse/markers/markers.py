"""Change markers: stored annotations merged with prompt-version markers computed from the calls
(the first stored call of each (prompt_id, prompt_version) in the range, never stored), and the
likely causes of an alert: the changes shortly before it started that concern its scope.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from promptpulse.markers.repo import FILTER_FIELDS, iso, list_in
from promptpulse.model import Filter, Scope, VersionStart
from promptpulse.store import Store

# How far before an alert's start a change counts as a likely cause.
LOOKBACK = timedelta(hours=2)
MAX_CAUSES = 10


def version_marker(v: VersionStart) -> dict[str, Any]:
    name = v.prompt_id if v.prompt_id is not None else "(no prompt id)"
    return {
        "time": iso(v.first),
        "kind": "prompt",
        "title": f"{name} {v.prompt_version}: first call",
        "source": "prompt_version",
        "project": v.project,
        "prompt_id": v.prompt_id,
        "prompt_version": v.prompt_version,
    }


def markers(engine: sa.Engine, store: Store, scope: Scope) -> list[dict[str, Any]]:
    """Every change in the scope's range, oldest first. Annotations are narrowed by the scope's
    project, prompt_id, model and environment filters; version markers by all of its filters."""
    projects = scope.filter_values("project")
    asked = {f.dimension: f.values for f in scope.filters if f.dimension in FILTER_FIELDS}
    manual = [a.as_dict() for a in list_in(engine, projects, scope.start, scope.end, asked)]
    versions = [version_marker(v) for v in store.version_starts(scope)]
    return sorted([*manual, *versions], key=lambda m: (m["time"], m["source"], m["title"]))


def _scope_names(scope: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """The prompt and model an alert's scope names (its group first, then its filters)."""
    out: dict[str, tuple[str, ...]] = {}
    for where in (scope.get("filters") or {}, scope.get("group") or {}):
        for name in ("prompt_id", "model"):
            v = where.get(name)
            if v:
                out[name] = (v,) if isinstance(v, str) else tuple(v)
    return out


def likely_causes(
    engine: sa.Engine,
    store: Store,
    project: str | None,
    alert_scope: Mapping[str, Any],
    started_at: datetime,
    lookback: timedelta = LOOKBACK,
) -> list[dict[str, Any]]:
    """Changes in [started_at - lookback, started_at] of the alert's project (every project for
    an alert across all) that concern its prompt and model when it names them, newest first."""
    filters = [Filter(k, v) for k, v in _scope_names(alert_scope).items()]
    if project is not None:
        filters.append(Filter("project", (project,)))
    window = Scope(started_at - lookback, started_at + timedelta(microseconds=1), tuple(filters))
    found = markers(engine, store, window)
    return list(reversed(found))[:MAX_CAUSES]
