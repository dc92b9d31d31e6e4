"""The alerting tables under the short names the alerts code uses, and their time helpers.

The tables are defined with every other metadata table in `promptpulse.meta` (created by its
migrations). Times are stored as naive UTC (SQLite has no time zones) and made aware again on
the way out (`aware`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload

from promptpulse.meta import alert_deliveries as deliveries
from promptpulse.meta import alert_events, alerts
from promptpulse.meta import alert_rules as rules
from promptpulse.meta import alert_silences as silences

__all__ = ["alert_events", "alerts", "aware", "deliveries", "iso", "naive", "rules", "silences"]


def naive(t: datetime | None) -> datetime | None:
    return t.astimezone(UTC).replace(tzinfo=None) if t is not None and t.tzinfo else t


@overload
def aware(t: datetime) -> datetime: ...
@overload
def aware(t: None) -> None: ...
def aware(t: datetime | None) -> datetime | None:
    return t.replace(tzinfo=UTC) if t is not None and t.tzinfo is None else t


def iso(t: datetime | None) -> str | None:
    t = aware(t)
    return t.isoformat().replace("+00:00", "Z") if t is not None else None
