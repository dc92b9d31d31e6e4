"""The evaluator: one round = judge every enabled rule and every registered source's objects
(budgets, SLOs: see `alerts.sources`), advance their alerts, queue notifications. Runs as one
background task in the server, or on demand (`POST /v1/alerts/evaluate`), always at the
injected clock's time."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool

from promptpulse.alerts import repo
from promptpulse.alerts import tables as t
from promptpulse.alerts.causes import CauseReader
from promptpulse.alerts.delivery import Dispatcher
from promptpulse.alerts.evaluate import Verdict
from promptpulse.alerts.fetch import Fetcher
from promptpulse.alerts.incident_flow import IncidentFlow
from promptpulse.alerts.incidents import acknowledged as inc_acknowledged
from promptpulse.alerts.incidents import alert_resolved, membership
from promptpulse.alerts.rule_round import Judged, judge_rules
from promptpulse.alerts.sources import AlertSource, judge_sources
from promptpulse.alerts.state import OpenAlert, Subject, advance, can_acknowledge, can_resolve
from promptpulse.errors import Invalid, LeaseLost
from promptpulse.meta import project_metrics
from promptpulse.notify import ChannelSpec, Notification
from promptpulse.tasks import DaemonTask

log = logging.getLogger("promptpulse.alerts")


@dataclass
class Outbox:
    items: list[tuple[ChannelSpec, Notification, str | None]] = field(default_factory=list)
    escalations: list[dict[str, Any]] = field(default_factory=list)


def _iso(x: datetime | None) -> str | None:
    return t.iso(x)


class AlertService(IncidentFlow):
    """Owns the alerting tables, the evaluator and the dispatcher of one server. Rules are its
    own; other kinds of alert (budgets, SLOs) come from sources given to `register_source`."""

    def __init__(
        self,
        engine: sa.Engine,
        store: Any,
        clock: Callable[[], datetime],
        settings: Any,
    ) -> None:
        self.engine = engine
        self.store = store
        self.clock = clock
        self.settings = settings
        self._sources: dict[str, AlertSource] = {}
        self.dispatcher = Dispatcher(
            engine,
            max_attempts=settings.alerts_max_attempts,
            retry_base_s=settings.alerts_retry_base_s,
            smtp_url=settings.smtp_url,
            smtp_from=settings.smtp_from,
            allowed_hosts=settings.allowed_hosts,
        )
        self._lock = threading.Lock()
        self._cache: dict[Any, Any] = {}
        self.causes = CauseReader(engine, store)
        # Checks, inside a periodic round's write, that this replica still leads (the jobs
        # lease): a round that outlived its lease writes nothing and notifies nobody.
        self.fence: Callable[[sa.Connection], None] = _unfenced
        self.last_round: dict[str, Any] | None = None

    def register_source(self, source: AlertSource) -> None:
        """Judge `source`'s objects every round, after the rules and the sources before it."""
        with self._lock:
            if source.kind == "rule" or source.kind in self._sources:
                raise ValueError(f"an alert source of kind '{source.kind}' is already registered")
            self._sources[source.kind] = source

    @property
    def base_url(self) -> str:
        url = self.settings.public_url or f"http://{self.settings.host}:{self.settings.port}"
        return str(url).rstrip("/")

    # ------------------------------------------------------------ a round

    def evaluate_round(
        self, now: datetime | None = None, project: str | None = None, fenced: bool = False
    ) -> tuple[dict[str, Any], Outbox]:
        """One round over every project, or over one `project` only: its rules, budgets, SLOs
        and open alerts (a project admin's "evaluate now"); other projects' alerts are not
        touched."""
        with self._lock:
            return self._round(now or self.clock(), project, fenced)

    def _round(
        self, now: datetime, project: str | None, fenced: bool = False
    ) -> tuple[dict[str, Any], Outbox]:
        started = time.perf_counter()
        self.causes.new_round()
        records = repo.list_rules(self.engine, project, enabled_only=True)
        opened = repo.open_alerts(self.engine, project)
        custom: dict[str | None, Any] = {}

        def custom_of(project: str | None) -> Any:  # read once per project per round
            if project not in custom:
                custom[project] = project_metrics(self.engine, project)
            return custom[project]

        fetcher = Fetcher(self.store, self._cache, custom_of)
        judged, errors = judge_rules(records, fetcher, now, set(opened))
        live_sources = {("rule", r.id) for r in records}
        live_sources |= {("rule", e["rule_id"]) for e in errors}
        sources = judge_sources(
            self._sources.values(), self.engine, self.store, now, opened, project
        )
        judged.extend(Judged(s, v) for s, v in sources.verdicts)
        if project is not None:  # a source that ignored the scope changes nothing elsewhere
            judged = [j for j in judged if j.subject.project == project]
        errors.extend(sources.errors)
        live_sources |= sources.live
        # Open alerts of a kind no registered source answers for are not ours to resolve.
        known = {"rule", *self._sources}
        live_sources |= {k[:2] for k in opened if k[0] not in known}
        outbox = Outbox()
        fence = self.fence if fenced else _unfenced
        changes = self._apply(judged, opened, live_sources, now, outbox, fence)
        with self.engine.begin() as conn:  # after the alerts: an incident just acked stops here
            fence(conn)
            outbox.escalations = self._escalate(conn, now, project, outbox)
        result = {
            "evaluated_at": _iso(now),
            "project": project,
            "rules": len(records),
            "subjects": len(judged),
            "queries": fetcher.queries,
            "changes": changes,
            "notifications": len(outbox.items),
            "escalations": outbox.escalations,
            "errors": errors,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        }
        if project is None:
            self.last_round = result
        return result, outbox

    def _apply(
        self,
        judged: list[Judged],
        opened: dict[tuple[str, str, str], OpenAlert],
        live: set[tuple[str, str]],
        now: datetime,
        outbox: Outbox,
        fence: Callable[[sa.Connection], None],
    ) -> list[dict[str, Any]]:
        """Advance every judged subject's alert in one transaction; resolve quietly the open
        alerts whose rule, budget or SLO is gone or disabled. Returns the changes."""
        silences = [s for s in repo.list_silences(self.engine) if s.active(now)]
        changes: list[dict[str, Any]] = []
        left = dict(opened)
        with self.engine.begin() as conn:
            fence(conn)
            for j in judged:
                alert = left.pop(j.subject.key, None)
                change = self._advance(conn, j, alert, silences, now, outbox)
                if change is not None:
                    changes.append(change)
            for key, alert in left.items():
                if key[:2] not in live:
                    changes.append(_resolve_orphan(conn, key, alert, now))
        return changes

    def _advance(
        self,
        conn: sa.Connection,
        j: Judged,
        alert: OpenAlert | None,
        silences: list[Any],
        now: datetime,
        outbox: Outbox,
    ) -> dict[str, Any] | None:
        """One subject's step: open or update its alert, record the event, queue notifications.
        The change, when there is one worth reporting."""
        s, v = j.subject, j.verdict
        silenced = any(x.matches(s) for x in silences)
        step = advance(alert, v.breached, now, s.for_, s.renotify, silenced)
        if step.state is None:
            return None
        if alert is None:
            aid = repo.open_alert(conn, s, now, step.state, v.value, v.threshold, v.reason)
            started_at, fired_at = now, now if step.state == "firing" else None
        else:
            aid, started_at, fired_at = alert.id, alert.started_at, alert.fired_at
            values: dict[str, Any] = {
                "state": step.state,
                "value": v.value,
                "threshold": v.threshold,
                "reason": v.reason,
                "evaluated_at": now,
            }
            if step.event == "firing":
                values["fired_at"] = fired_at = now
            if step.state == "resolved":
                values["resolved_at"] = now
                values["resolved_by"] = "auto"
            repo.update_alert(conn, aid, **values)
        reason = v.reason if step.event else None
        repo.add_event(conn, aid, now, step.event or "value", v.value, v.threshold, reason)
        send, iid, chans = self._gate(conn, s, aid, step, now, outbox)
        if step.notify:  # sent, or held back by its incident: either way it is handled
            repo.update_alert(conn, aid, notified_at=now)
        if send:
            note = self._notification(s, aid, send, v, now, started_at, fired_at)
            self._send(conn, s, note, iid, now, outbox, started_at, chans)
        if not (step.event or step.notify):
            return None
        return {
            "alert_id": aid,
            "name": s.name,
            "source": s.source,
            "source_id": s.source_id,
            "scope": s.scope,
            "from": alert.state if alert else None,
            "to": step.state,
            "event": step.event,
            "notify": send,
            "incident_id": iid,
            "silenced": silenced,
            "value": v.value,
            "threshold": v.threshold,
            "reason": v.reason,
        }

    def _send(
        self,
        conn: sa.Connection,
        s: Subject,
        note: Notification,
        iid: str | None,
        now: datetime,
        outbox: Outbox,
        started_at: datetime | None = None,
        channels: tuple[ChannelSpec, ...] | None = None,
    ) -> None:
        """Queue `note` to the subject's channels (or to `channels`), linked to its incident and
        in its timeline; a firing or a reminder carries the changes just before it started."""
        if note.event in ("firing", "reminder"):
            note = replace(note, likely_causes=self.causes(s.project, s.scope, started_at))
        note = self._incident_link(note, iid) if iid else note
        targets = s.channels if channels is None else channels
        outbox.items.extend((ch, note, s.project) for ch in targets)
        self._sent(conn, iid, note.event, targets, now, note.alert_id)

    def _notification(
        self,
        s: Subject,
        aid: str,
        event: str,
        v: Verdict | None,
        now: datetime,
        started_at: datetime | None,
        fired_at: datetime | None,
        acknowledged_by: str | None = None,
        note: str | None = None,
    ) -> Notification:
        links = {"alert": f"{self.base_url}/v1/alerts/{aid}", "dashboard": f"{self.base_url}/"}
        if s.source == "rule":
            links["rule"] = f"{self.base_url}/v1/alerts/rules/{s.source_id}"
        if s.runbook_url:
            links["runbook"] = s.runbook_url
        return Notification(
            event=event,
            alert_id=aid,
            alert_type=s.alert_type,
            severity=s.severity,
            name=s.name,
            source=s.source,
            source_id=s.source_id,
            project=s.project,
            metric=s.metric,
            value=v.value if v else None,
            threshold=v.threshold if v else None,
            reason=(v.reason if v else note) or "",
            timestamp=_iso(now) or "",
            scope=s.scope,
            labels=dict(s.labels),
            baseline=(v.baseline or None) if v else None,
            started_at=_iso(started_at),
            fired_at=_iso(fired_at),
            resolved_at=_iso(now) if event == "resolved" else None,
            acknowledged_by=acknowledged_by,
            note=note,
            links=links,
        )

    async def run_round(self, project: str | None = None, fenced: bool = False) -> dict[str, Any]:
        result, outbox = await run_in_threadpool(self.evaluate_round, None, project, fenced)
        result["deliveries"] = [self.dispatcher.submit(ch, n, p) for ch, n, p in outbox.items]
        return result

    # ------------------------------------------------------------ by hand

    def _subject_of(self, row: Any) -> Subject:
        """Rebuild enough of a subject from an alert row to notify its channels."""
        channels: tuple[ChannelSpec, ...] = ()
        runbook = None
        import orjson

        if row.source == "rule":
            try:
                rec = repo.get_rule(self.engine, row.source_id)
                channels, runbook = tuple(rec.rule.channels), rec.rule.runbook_url
            except Exception:
                pass
        elif row.source in self._sources:
            channels = self._sources[row.source].channels(self.engine, row.source_id)
        return Subject(
            source=row.source,
            source_id=row.source_id,
            scope_key=row.scope_key,
            name=row.name,
            severity=row.severity,
            alert_type=row.alert_type,
            metric=row.metric,
            for_=timedelta(0),
            renotify=timedelta(0),
            project=row.project,
            scope=orjson.loads(row.scope),
            channels=channels,
            labels=tuple(sorted(orjson.loads(row.labels).items())),
            runbook_url=runbook,
        )

    def change_by_hand(
        self, alert_id: str, action: str, actor: str, note: str | None, project: str | None
    ) -> tuple[dict[str, Any], Outbox]:
        now = self.clock()
        outbox = Outbox()
        with self._lock, self.engine.begin() as conn:
            self._alert_by_hand(conn, alert_id, action, actor, note, project, now, outbox)
            fresh = repo.get_alert_row(conn, alert_id, project)
        return repo.alert_public(fresh), outbox

    def change_incident(
        self, incident_id: str, action: str, actor: str, note: str | None, project: str | None
    ) -> Outbox:
        """Acknowledge or resolve an incident and its alerts, all in one transaction."""
        outbox = Outbox()
        with self._lock, self.engine.begin() as conn:
            self._incident_by_hand(
                conn, incident_id, action, actor, note, project, self.clock(), outbox
            )
        return outbox

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
        row = repo.get_alert_row(conn, alert_id, project)
        if action == "acknowledge":
            if not can_acknowledge(row.state):
                raise Invalid(
                    f"alert {alert_id} is {row.state}; only a firing alert can be acknowledged"
                )
            repo.update_alert(
                conn,
                alert_id,
                state="acknowledged",
                acknowledged_at=now,
                acknowledged_by=actor,
                ack_note=note,
            )
            event = "acknowledged"
        else:
            if not can_resolve(row.state):
                raise Invalid(f"alert {alert_id} is already resolved")
            repo.update_alert(conn, alert_id, state="resolved", resolved_at=now, resolved_by=actor)
            event = "resolved"
        repo.add_event(conn, alert_id, now, event, row.value, row.threshold, note, actor)
        send: str | None = event if row.notified_at is not None else None
        m = membership(conn, alert_id)
        if m is not None and event == "acknowledged":
            inc_acknowledged(conn, m, alert_id, now, actor)
            send = send if m.is_lead(alert_id) else None
        elif m is not None:
            send = self._resolved(conn, m, alert_id, send, now, outbox, actor)
        if send:
            s = self._subject_of(row)
            n = self._notification(
                s,
                alert_id,
                event,
                None,
                now,
                t.aware(row.started_at),
                t.aware(row.fired_at),
                actor,
                note,
            )
            n = _with_value(n, row.value, row.threshold, row.reason)
            self._send(conn, s, n, m.incident_id if m else None, now, outbox)

    async def by_hand(
        self, alert_id: str, action: str, actor: str, note: str | None, project: str | None
    ) -> dict[str, Any]:
        result, outbox = await run_in_threadpool(
            self.change_by_hand, alert_id, action, actor, note, project
        )
        for ch, n, p in outbox.items:
            self.dispatcher.submit(ch, n, p)
        return result

    async def incident_by_hand(
        self, incident_id: str, action: str, actor: str, note: str | None, project: str | None
    ) -> None:
        outbox = await run_in_threadpool(
            self.change_incident, incident_id, action, actor, note, project
        )
        for ch, n, p in outbox.items:
            self.dispatcher.submit(ch, n, p)

    # ------------------------------------------------------------ lifecycle

    def daemon(self) -> DaemonTask:
        service = self

        class _Evaluator(DaemonTask):
            async def stop(self) -> None:
                await super().stop()
                await service.dispatcher.drain()

            def start(self) -> None:
                if self.interval_s > 0:
                    super().start()

        async def once() -> None:
            try:
                await service.run_round(fenced=True)
            except LeaseLost as exc:
                log.warning("alert round not written: %s", exc)

        return _Evaluator("alerts", self.settings.alerts_interval_s, once)


def _unfenced(conn: sa.Connection) -> None:
    """Rounds by hand ("evaluate now") and servers without replicas: no lease to check."""


def _with_value(
    n: Notification, value: float | None, threshold: float | None, reason: str | None
) -> Notification:
    from dataclasses import replace

    return replace(n, value=value, threshold=threshold, reason=n.note or reason or "")


def _resolve_orphan(
    conn: sa.Connection, key: tuple[str, str, str], alert: OpenAlert, now: datetime
) -> dict[str, Any]:
    """An open alert whose rule, budget or SLO is gone or disabled: resolved, not notified."""
    repo.update_alert(
        conn,
        alert.id,
        state="resolved",
        resolved_at=now,
        resolved_by="source removed",
        evaluated_at=now,
    )
    repo.add_event(conn, alert.id, now, "resolved", note="rule removed or disabled")
    m = membership(conn, alert.id)
    if m is not None:
        alert_resolved(conn, m, alert.id, now, "source removed")
    return {
        "alert_id": alert.id,
        "source": key[0],
        "source_id": key[1],
        "from": alert.state,
        "to": "resolved",
        "event": "resolved",
        "notify": None,
    }
