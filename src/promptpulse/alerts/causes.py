"""The likely causes of alerts, read once per evaluation round: a firing alert needs them twice
(its incident's grouping, then its notification), and alerts of one scope share them."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from promptpulse.alerts import tables as t
from promptpulse.markers import likely_causes

log = logging.getLogger("promptpulse.alerts")


class CauseReader:
    def __init__(self, engine: sa.Engine, store: Any) -> None:
        self.engine, self.store = engine, store
        self._read: dict[str, tuple[dict[str, Any], ...]] = {}

    def new_round(self) -> None:
        """Forget what was read: changes annotated since the last round count now."""
        self._read.clear()

    def __call__(
        self, project: str | None, scope: dict[str, Any], started_at: datetime | None
    ) -> tuple[dict[str, Any], ...]:
        """The changes shortly before an alert started that concern it (`markers.likely_causes`).
        A store or metadata failure costs the notification its causes, never the notification."""
        if started_at is None:
            return ()
        when = t.aware(started_at)
        key = json.dumps([project, scope, when.isoformat()], sort_keys=True, default=str)
        if key not in self._read:
            try:
                found = likely_causes(self.engine, self.store, project, scope, when)
            except Exception:
                log.exception("likely causes of an alert could not be read")
                return ()
            self._read[key] = tuple(found)
        return self._read[key]
