"""Report schedules: the JSON shape, its validation, and reading and writing their table
(`report_schedules`, defined in promptpulse.meta)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import orjson
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from promptpulse.alerts import tables as t
from promptpulse.alerts.repo import new_id
from promptpulse.errors import NotFound, invalid
from promptpulse.meta import report_schedules as schedules
from promptpulse.notify import MASK, ChannelSpec
from promptpulse.reports import periods


class ReportChannel(BaseModel):
    """email (SMTP), webhook (JSON, optionally HMAC-signed) or file (Markdown + HTML)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["email", "webhook", "file"]
    to: list[str] | None = Field(None, description="email: recipients")
    url: str | None = Field(None, description="webhook: where to POST the JSON")
    secret: str | None = Field(None, description="webhook: HMAC-SHA256 signing secret")
    headers: dict[str, str] | None = Field(None, description="webhook: extra HTTP headers")
    dir: str | None = Field(None, description="file: a directory under PROMPTPULSE_REPORTS_DIR")

    @field_validator("to", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @model_validator(mode="after")
    def _check(self) -> ReportChannel:
        if self.type == "file":
            if not self.dir:
                raise ValueError("a file channel needs dir")
            if len(self.dir) > 200 or any(ord(c) < 32 or c == "\x7f" for c in self.dir):
                raise ValueError("dir: at most 200 characters, no control characters (NUL...)")
        else:
            self.channel_spec()  # email and webhook follow promptpulse.notify's rules
        return self

    def channel_spec(self) -> ChannelSpec:
        return ChannelSpec.model_validate(
            {"type": self.type, "to": self.to, "url": self.url, "secret": self.secret,
             "headers": self.headers}
        )  # fmt: skip

    def masked(self) -> dict[str, Any]:
        if self.type == "file":
            return {"type": "file", "dir": self.dir}
        return self.channel_spec().masked()

    def target(self) -> str:
        return f"file:{self.dir}" if self.type == "file" else self.channel_spec().target()


class ScheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=200, description="Default: '<period> report'")
    project: str | None = Field(None, max_length=100, description="None: every project (admin)")
    period: Literal["day", "week", "month"] = "week"
    at: str | None = Field(None, description="HH:MM (day), MON HH:MM (week), D HH:MM (month)")
    timezone: str = Field("UTC", description="IANA time zone of `at` and of the periods")
    channels: list[ReportChannel] = Field(..., min_length=1)
    min_requests: int = Field(20, ge=1, description="Calls a prompt needs on each side to be "
                              "a mover or a recommendation")  # fmt: skip
    enabled: bool = True

    @model_validator(mode="after")
    def _normalise(self) -> ScheduleIn:
        periods.zone(self.timezone)
        self.at = periods.format_at(self.period, periods.parse_at(self.period, self.at))
        if not self.name:
            self.name = f"{self.period} report"
        return self

    def parsed_at(self) -> periods.At:
        return periods.parse_at(self.period, self.at)

    def public(self) -> dict[str, Any]:
        out = self.model_dump(exclude={"channels"})
        out["channels"] = [c.masked() for c in self.channels]
        return out


def resolve_dir(root: Path, raw: str) -> Path:
    """A file channel's directory: relative to `root`, and never outside it."""
    root = root.resolve()
    try:
        path = (root / raw).resolve()
    except (ValueError, OSError):  # an embedded NUL, a name too long
        raise invalid("channels", f"dir '{raw[:200]!r}' is not a usable directory name") from None
    if path != root and root not in path.parents:
        raise invalid("channels", f"dir '{raw}' is outside the reports directory {root}")
    return path


def keep_secrets(new: list[ReportChannel], old: list[ReportChannel]) -> list[ReportChannel]:
    """Channels sent back with masked secrets keep the stored ones (same index and type)."""
    out = []
    for i, ch in enumerate(new):
        prev = old[i] if i < len(old) and old[i].type == ch.type else None
        values = ch.model_dump()
        for name in ("url", "secret"):
            v = values.get(name)
            if isinstance(v, str) and MASK in v:
                if prev is None:
                    raise invalid("channels", f"channels[{i}].{name}: give the value, not a mask")
                values[name] = getattr(prev, name)
        headers = values.get("headers") or {}
        if any(v == MASK for v in headers.values()):
            old_h = (prev.headers if prev else None) or {}
            values["headers"] = {k: old_h.get(k, v) if v == MASK else v for k, v in headers.items()}
        out.append(ReportChannel.model_validate(values))
    return out


def _check_masks(spec: ScheduleIn) -> None:
    keep_secrets(spec.channels, [])


# ------------------------------------------------------------------ repository


class ScheduleRecord(BaseModel):
    id: str
    spec: ScheduleIn
    created_at: datetime
    updated_at: datetime
    last_period_end: datetime | None
    last_sent_at: datetime | None
    last_result: list[dict[str, Any]] | None

    def public(self, now: datetime) -> dict[str, Any]:
        s = self.spec
        tz = periods.zone(s.timezone)
        nxt = periods.next_send_time(s.period, s.parsed_at(), tz, now)
        return {
            "id": self.id,
            **s.public(),
            "created_at": t.iso(self.created_at),
            "updated_at": t.iso(self.updated_at),
            "last_period_end": t.iso(self.last_period_end),
            "last_sent_at": t.iso(self.last_sent_at),
            "last_result": self.last_result,
            "next_send_at": t.iso(nxt) if s.enabled else None,
        }


def _from(row: Any) -> ScheduleRecord:
    return ScheduleRecord(
        id=row.id,
        spec=ScheduleIn.model_validate_json(row.spec),
        created_at=t.aware(row.created_at),
        updated_at=t.aware(row.updated_at),
        last_period_end=t.aware(row.last_period_end),
        last_sent_at=t.aware(row.last_sent_at),
        last_result=orjson.loads(row.last_result) if row.last_result else None,
    )


def list_schedules(engine: sa.Engine, project: str | None = None) -> list[ScheduleRecord]:
    q = sa.select(schedules).order_by(schedules.c.project, schedules.c.name, schedules.c.id)
    if project is not None:
        q = q.where(schedules.c.project == project)
    with engine.connect() as conn:
        return [_from(r) for r in conn.execute(q)]


def get_schedule(engine: sa.Engine, sid: str, project: str | None = None) -> ScheduleRecord:
    with engine.connect() as conn:
        row = conn.execute(sa.select(schedules).where(schedules.c.id == sid)).first()
    if row is None or (project is not None and row.project != project):
        raise NotFound(f"no report schedule {sid}")
    return _from(row)


def _first_period_end(spec: ScheduleIn, now: datetime) -> datetime:
    """A new schedule starts with the next send time, not with a catch-up of the last one."""
    _, _, end = periods.due_period(spec.period, spec.parsed_at(), periods.zone(spec.timezone), now)
    return end


def create_schedule(engine: sa.Engine, spec: ScheduleIn, now: datetime) -> ScheduleRecord:
    _check_masks(spec)
    sid = new_id("rpt")
    with engine.begin() as conn:
        conn.execute(
            schedules.insert().values(
                id=sid,
                project=spec.project,
                name=spec.name,
                spec=spec.model_dump_json(),
                created_at=t.naive(now),
                updated_at=t.naive(now),
                last_period_end=t.naive(_first_period_end(spec, now)),
            )
        )
    return get_schedule(engine, sid)


def update_schedule(
    engine: sa.Engine, sid: str, spec: ScheduleIn, now: datetime, project: str | None = None
) -> ScheduleRecord:
    old = get_schedule(engine, sid, project)
    spec = spec.model_copy(update={"channels": keep_secrets(spec.channels, old.spec.channels)})
    values: dict[str, Any] = {
        "project": spec.project,
        "name": spec.name,
        "spec": spec.model_dump_json(),
        "updated_at": t.naive(now),
    }
    timing = (old.spec.period, old.spec.at, old.spec.timezone)
    if timing != (spec.period, spec.at, spec.timezone):
        values["last_period_end"] = t.naive(_first_period_end(spec, now))
    with engine.begin() as conn:
        conn.execute(schedules.update().where(schedules.c.id == sid).values(**values))
    return get_schedule(engine, sid)


def delete_schedule(engine: sa.Engine, sid: str, project: str | None = None) -> None:
    get_schedule(engine, sid, project)
    with engine.begin() as conn:
        conn.execute(schedules.delete().where(schedules.c.id == sid))


def mark_sent(
    engine: sa.Engine, sid: str, period_end: datetime, at: datetime, result: list[dict[str, Any]]
) -> None:
    with engine.begin() as conn:
        conn.execute(
            schedules.update()
            .where(schedules.c.id == sid)
            .values(
                last_period_end=t.naive(period_end),
                last_sent_at=t.naive(at),
                last_result=orjson.dumps(result).decode(),
            )
        )
