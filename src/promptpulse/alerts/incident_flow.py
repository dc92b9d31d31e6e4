"""How incidents change what the evaluator sends, and the incident actions by hand. A mixin of
`AlertService` (kept apart to keep each module small).

What is sent, per incident:
- the alert that opens an incident (its lead) notifies as alerts always did: firing, reminders,
  acknowledged;
- an alert that joins an open incident sends nothing: it is recorded in the timeline ("joined");
- "resolved" is sent once, when the incident's last alert resolves, as the lead's message to the
  lead's channels;
- escalation: while nobody has acknowledged the incident, each step of the lead rule's
  `escalation` whose `after` has passed since the incident opened notifies that step's channels
  once ("escalated", the lead's message).
Every decision is written in the same transaction as the alert it concerns, so a leader
takeover never sends twice what the previous leader committed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from promptpulse.alerts import incidents as inc
from promptpulse.alerts import repo
from promptpulse.alerts import tables as t
from promptpulse.alerts.causes import CauseReader
from promptpulse.alerts.escalation import due_steps
from promptpulse.alerts.state import Step, Subject
from promptpulse.errors import Invalid, NotFound
from promptpulse.notify import ChannelSpec, Notification


class IncidentFlow:
    engine: sa.Engine
    _notification: Callable[..., Notification]
    _subject_of: Callable[[Any], Subject]
    causes: CauseReader

    def _gate(
        self,
        conn: sa.Connection,
        s: Subject,
        aid: str,
        step: Step,
        now: datetime,
        outbox: Any,
    ) -> tuple[str | None, str | None, tuple[ChannelSpec, ...]]:
        """The notification this alert's step may send given its incident (None: nothing), the
        incident's id and the channels it goes to. An alert joining an open incident speaks
        only to its channels the incident has not reached (grouping must never keep a page
        from someone who was not told), and later resolves to those same channels."""
        if step.event == "firing":
            causes = self._cause_keys(conn, s, aid)
            iid, opened = inc.attach(conn, s, aid, now, step.notify is not None, causes)
            if opened:
                return step.notify, iid, s.channels
            heard = inc.heard(conn, iid)
            new = tuple(ch for ch in s.channels if _target(ch) not in heard)
            return (step.notify if new else None), iid, new
        m = inc.membership(conn, aid)
        if m is None:
            return step.notify, None, s.channels
        if step.state == "resolved":
            send = self._resolved(conn, m, aid, step.notify, now, outbox, None)
            if send is None and step.notify and not m.is_lead(aid):
                said = inc.heard(conn, m.incident_id, alert_id=aid)
                own = tuple(ch for ch in s.channels if _target(ch) in said)
                return (step.notify if own else None), m.incident_id, own
            return send, m.incident_id, s.channels
        return (step.notify if m.is_lead(aid) else None), m.incident_id, s.channels

    def _cause_keys(self, conn: sa.Connection, s: Subject, aid: str) -> frozenset[str]:
        """The annotated changes (deploys, config) just before the alert started, as incidents
        compare them. New prompt versions are left out: an alert about that prompt groups by
        the prompt already, and every project-wide alert would share every first version."""
        started = repo.get_alert_row(conn, aid, None).started_at
        found = self.causes(s.project, s.scope, t.aware(started) if started else None)
        return frozenset(inc.cause_key(c) for c in found if c.get("source") == "manual")

    def _resolved(
        self,
        conn: sa.Connection,
        m: inc.Membership,
        aid: str,
        notify: str | None,
        now: datetime,
        outbox: Any,
        actor: str | None,
    ) -> str | None:
        """An alert of `m` resolved: "resolved" goes out once, when the incident resolves."""
        closed = inc.alert_resolved(conn, m, aid, now, actor)
        if closed and notify and m.is_lead(aid):
            return notify
        if closed:
            self._lead_message(conn, m, "resolved", now, outbox, None)
        return None

    def _sent(
        self,
        conn: sa.Connection,
        iid: str | None,
        event: str,
        chans: Any,
        now: datetime,
        alert_id: str | None = None,
    ) -> None:
        """Timeline: the incident notified these channels (with the alert that spoke)."""
        if iid is not None:
            for ch in chans:
                inc.event(conn, iid, now, "notified", alert_id, channel=_target(ch), note=event)

    def _lead_message(
        self,
        conn: sa.Connection,
        m: inc.Membership,
        event: str,
        now: datetime,
        outbox: Any,
        channels: list[ChannelSpec] | None,
    ) -> None:
        """The lead alert's message for `event`, to its channels (or to `channels`), when the
        lead was notified at all (a silenced incident stays silent)."""
        row = repo.get_alert_row(conn, m.lead_alert_id, None)
        if row.notified_at is None:
            return
        s = self._subject_of(row)
        note = self._notification(
            s, row.id, event, None, now, t.aware(row.started_at), t.aware(row.fired_at)
        )
        note = replace(note, value=row.value, threshold=row.threshold, reason=row.reason or "")
        note = self._incident_link(note, m.incident_id)
        targets = s.channels if channels is None else tuple(channels)
        for ch in targets:
            outbox.items.append((ch, note, s.project))
        self._sent(conn, m.incident_id, event, targets, now)

    @property
    def base_url(self) -> str:
        raise NotImplementedError  # AlertService's

    def _incident_link(self, note: Notification, incident_id: str) -> Notification:
        return replace(
            note, links={**note.links, "incident": f"{self.base_url}/v1/incidents/{incident_id}"}
        )

    def _escalate(
        self, conn: sa.Connection, now: datetime, project: str | None, outbox: Any
    ) -> list[dict[str, Any]]:
        """Send every escalation step that is due on an unacknowledged incident."""
        out = []
        rules: dict[str, Any] = {}
        for row in inc.unacknowledged(conn, project):
            if row.rule_id not in rules:  # read in this transaction; a deleted rule: none
                found = conn.execute(sa.select(t.rules).where(t.rules.c.id == row.rule_id)).first()
                rules[row.rule_id] = repo.rule_from(found).rule.escalation if found else []
            steps = rules[row.rule_id]
            due = due_steps(steps, row.escalation_step, t.aware(row.opened_at), now)
            if not due:
                continue
            m = inc.Membership(row.id, row.lead_alert_id, row.state)
            for i in due:
                inc.event(conn, row.id, now, "escalated", note=f"step {i + 1} ({steps[i].after})")
                self._lead_message(conn, m, "escalated", now, outbox, steps[i].channels)
                out.append({"incident_id": row.id, "step": i + 1, "after": steps[i].after})
            inc.mark_escalated(conn, row.id, due[-1] + 1)
        return out

    def _incident_by_hand(
        self,
        conn: sa.Connection,
        incident_id: str,
        action: str,
        actor: str,
        note: str | None,
        project: str | None,
        now: datetime,
        outbox: Any,
    ) -> None:
        """Acknowledge (every firing alert) or resolve (every open alert) an incident."""
        row = conn.execute(
            sa.select(inc.incidents).where(inc.incidents.c.id == incident_id)
        ).first()
        if row is None or (project is not None and row.project != project):
            raise NotFound(f"no incident {incident_id}")
        if row.state == "resolved" or (action == "acknowledge" and row.state != "open"):
            raise Invalid(f"incident {incident_id} is {row.state}; it cannot be {action}d now")
        m = inc.Membership(row.id, row.lead_alert_id, row.state)
        for a in inc.member_alerts(conn, incident_id):
            wanted = "firing" if action == "acknowledge" else ("firing", "acknowledged", "pending")
            if a.state in wanted:
                self._alert_by_hand(conn, a.id, action, actor, note, None, now, outbox)
        if action == "acknowledge":
            inc.acknowledged(conn, m, None, now, actor)

    def _alert_by_hand(
        self,
        conn: sa.Connection,
        alert_id: str,
        action: str,
        actor: str,
        note: str | None,
        project: str | None,
        now: datetime,
        outbox: Any,
    ) -> None:
        raise NotImplementedError  # AlertService's


def _target(ch: ChannelSpec) -> str:
    """The channel as the timeline names it: its secret-free label (a webhook's origin), then a
    short digest of the whole spec, so two webhooks on one host stay two channels."""
    digest = hashlib.sha256(ch.model_dump_json().encode()).hexdigest()[:12]
    return f"{ch.type} {ch.target()}"[:280] + f" #{digest}"
