"""The alert state machine: pending -> firing -> acknowledged -> resolved. Pure.

One open alert per subject (a rule and a scope, a budget threshold, an SLO burn window). The
service turns each verdict into a `Step` with `advance` and stores it; nothing here touches a
database or the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from promptpulse.notify import ChannelSpec

OPEN_STATES = ("pending", "firing", "acknowledged")
STATES = (*OPEN_STATES, "resolved")


@dataclass(frozen=True)
class Subject:
    """What an alert is about, and how to tell people."""

    source: str  # rule | budget | slo
    source_id: str
    scope_key: str  # "" or the group value(s) / threshold / burn window
    name: str
    severity: str
    alert_type: str  # threshold | change | anomaly | budget | budget_forecast | slo_burn
    metric: str
    for_: timedelta
    renotify: timedelta
    project: str | None
    scope: dict[str, Any]
    channels: tuple[ChannelSpec, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    runbook_url: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.source, self.source_id, self.scope_key)


@dataclass(frozen=True)
class OpenAlert:
    id: str
    state: str
    started_at: datetime
    fired_at: datetime | None
    notified_at: datetime | None


@dataclass(frozen=True)
class Step:
    state: str | None  # the new state; None: no alert (nothing was open, nothing to open)
    event: str | None  # what to write in the history: pending, firing, resolved, cancelled
    notify: str | None  # firing | reminder | resolved: what to send (None: nothing)

    @property
    def changed(self) -> bool:
        return self.event is not None


NOTHING = Step(None, None, None)


def advance(
    alert: OpenAlert | None,
    breached: bool,
    now: datetime,
    hold: timedelta,
    renotify: timedelta,
    silenced: bool,
) -> Step:
    """The next step of one subject's alert, given whether its condition holds now."""
    if alert is None:
        if not breached:
            return NOTHING
        if hold <= timedelta(0):
            return Step("firing", "firing", None if silenced else "firing")
        return Step("pending", "pending", None)
    if alert.state == "pending":
        if not breached:
            return Step("resolved", "cancelled", None)
        if now - alert.started_at >= hold:
            return Step("firing", "firing", None if silenced else "firing")
        return Step("pending", None, None)
    # firing or acknowledged
    if not breached:
        return Step("resolved", "resolved", "resolved" if alert.notified_at else None)
    if alert.state == "firing" and not silenced:
        if alert.notified_at is None:
            return Step("firing", None, "firing")  # a silence ended, or nothing was sent yet
        if renotify > timedelta(0) and now - alert.notified_at >= renotify:
            return Step("firing", None, "reminder")
    return Step(alert.state, None, None)


def can_acknowledge(state: str) -> bool:
    return state == "firing"


def can_resolve(state: str) -> bool:
    return state in OPEN_STATES
