"""Sending reports: build one for a period, deliver it to email, webhook and file channels, and
the scheduler that sends each due period once (the last period sent is kept in the schedule's
row, so restarts neither skip nor repeat one)."""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import orjson
import sqlalchemy as sa

from promptpulse.config import Settings
from promptpulse.errors import Invalid
from promptpulse.model import Filter, Scope
from promptpulse.notify import (
    PermanentFailure,
    attempts,
    outgoing_client,
    post_json,
    send_email,
)
from promptpulse.reports import periods
from promptpulse.reports import schedules as sch
from promptpulse.reports.build import build_report
from promptpulse.reports.model import Report
from promptpulse.reports.recommend import MIN_REQUESTS
from promptpulse.reports.render import render_html, render_markdown, render_text
from promptpulse.store import Store
from promptpulse.tasks import DaemonTask

log = logging.getLogger("promptpulse.reports")
ATTEMPTS = 3
REPORTS_AGENT = "PromptPulse-Reports/1"


def report_for(
    store: Store,
    meta_engine: sa.Engine | None,
    period: str,
    now: datetime,
    *,
    project: str | None = None,
    timezone: str = "UTC",
    as_of: datetime | None = None,
    min_requests: int = MIN_REQUESTS,
) -> Report:
    """The report of the last whole `period` (in `timezone`) complete at `as_of` (default now)."""
    tz = periods.zone(timezone)
    start, end = periods.last_complete(period, tz, as_of or now)
    filters = (Filter("project", (project,)),) if project else ()
    return build_report(
        store, Scope(start, end, filters), period, now, meta_engine=meta_engine,
        timezone=timezone, min_requests=min_requests,
    )  # fmt: skip


def subject(r: Report) -> str:
    tz = periods.zone(r.timezone)
    first = datetime.fromisoformat(r.start.replace("Z", "+00:00")).astimezone(tz).date()
    last = datetime.fromisoformat(r.end.replace("Z", "+00:00")).astimezone(tz).date()
    last = last.fromordinal(last.toordinal() - 1)
    span = first.isoformat() if r.period == "day" else f"{first} – {last}"
    return f"{r.title} · {span}"


def email_message(r: Report, sender: str, to: list[str]) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = subject(r)
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg.set_content(render_text(r))
    msg.add_alternative(render_html(r), subtype="html")
    return msg


def file_names(r: Report) -> tuple[str, str]:
    tz = periods.zone(r.timezone)
    first = datetime.fromisoformat(r.start.replace("Z", "+00:00")).astimezone(tz).date()
    stem = f"report-{_file_safe(r.project or 'all')}-{r.period}-{first.isoformat()}"
    return f"{stem}.md", f"{stem}.html"


def _file_safe(name: str) -> str:
    """A project name as one harmless path segment: '/../x' -> '_.._x' (never a separator)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:100]


def write_files(r: Report, directory: Path) -> list[Path]:
    """Markdown and HTML, each written to a temporary name and renamed (never half a file)."""
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for name, text in zip(file_names(r), (render_markdown(r), render_html(r)), strict=True):
        path = directory / name
        if path.resolve().parent != directory.resolve():  # belt and braces: one segment only
            raise PermanentFailure(f"report file name '{name}' leaves its directory")
        tmp = directory / f".{name}.partial"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
        out.append(path)
    return out


def webhook_body(r: Report) -> dict[str, Any]:
    return {"version": 1, "event": "report", "report": r.as_dict(), "markdown": render_markdown(r)}


class ReportService:
    """Owns the schedules table, builds and delivers reports, and runs the scheduler."""

    def __init__(
        self,
        engine: sa.Engine,
        store: Store,
        clock: Callable[[], datetime],
        settings: Settings,
    ) -> None:
        self.engine = engine
        self.store = store
        self.clock = clock
        self.settings = settings
        self._lock = asyncio.Lock()

    @property
    def reports_dir(self) -> Path:
        return self.settings.reports_dir or self.settings.data_dir / "reports"

    def build(self, period: str, **kw: Any) -> Report:
        return report_for(self.store, self.engine, period, self.clock(), **kw)

    # ------------------------------------------------------------ delivery

    async def deliver(self, r: Report, channels: list[sch.ReportChannel]) -> list[dict[str, Any]]:
        results = []
        base_s = self.settings.alerts_retry_base_s
        async with outgoing_client(self.settings.allowed_hosts, timeout=15) as http:
            for ch in channels:
                status, error, detail = "failed", None, None
                send = partial(self._send, ch, r, http)
                async for a in attempts(send, ATTEMPTS, base_s, error_chars=500):
                    status, error, detail = a.status, a.error, a.result
                if status == "failed":
                    log.warning("report to %s failed: %s", ch.type, error)
                results.append(
                    {"type": ch.type, "target": ch.target(), "status": status, "error": error,
                     **({"files": detail} if detail else {})}
                )  # fmt: skip
        return results

    async def _send(
        self, ch: sch.ReportChannel, r: Report, http: httpx.AsyncClient
    ) -> list[str] | None:
        if ch.type == "file":
            try:
                directory = sch.resolve_dir(self.reports_dir, ch.dir or ".")
            except Invalid as exc:
                raise PermanentFailure(exc.detail) from None
            paths = await asyncio.to_thread(write_files, r, directory)
            return [str(p) for p in paths]
        if ch.type == "email":
            settings = self.settings
            await send_email(settings.smtp_url, email_message(r, settings.smtp_from, ch.to or []))
            return None
        body = orjson.dumps(webhook_body(r))
        await post_json(http, ch.url or "", body, REPORTS_AGENT, ch.secret, ch.headers)
        return None

    # ------------------------------------------------------------ the scheduler

    async def run_due(
        self, now: datetime | None = None, project: str | None = None
    ) -> list[dict[str, Any]]:
        """Send every enabled schedule (of every project, or of `project` only) whose latest
        period was not sent yet; returns the sends."""
        async with self._lock:
            now = now or self.clock()
            sent = []
            records = await asyncio.to_thread(sch.list_schedules, self.engine, project)
            for rec in records:
                s = rec.spec
                if not s.enabled:
                    continue
                tz = periods.zone(s.timezone)
                _, start, end = periods.due_period(s.period, s.parsed_at(), tz, now)
                if rec.last_period_end is not None and end <= rec.last_period_end:
                    continue
                try:
                    report = await asyncio.to_thread(
                        report_for, self.store, self.engine, s.period, now, project=s.project,
                        timezone=s.timezone, as_of=end, min_requests=s.min_requests,
                    )  # fmt: skip
                except Exception:
                    log.exception("report %s for %s could not be built", rec.id, start)
                    continue
                result = await self.deliver(report, s.channels)
                # Recorded after the attempt: a crash mid-send repeats it, a failure does not.
                await asyncio.to_thread(sch.mark_sent, self.engine, rec.id, end, now, result)
                log.info("report %s (%s %s) sent: %s", rec.id, s.period, report.start, result)
                sent.append({"schedule_id": rec.id, "period_start": report.start,
                             "period_end": report.end, "results": result})  # fmt: skip
            return sent

    def daemon(self) -> DaemonTask:
        service = self

        class _Scheduler(DaemonTask):
            def start(self) -> None:
                if self.interval_s > 0:
                    super().start()

        async def once() -> None:
            await service.run_due()

        return _Scheduler("reports", self.settings.reports_interval_s, once)
