"""Calendar periods in a time zone, and when a schedule is due. Pure.

A report covers a whole local calendar period: a day, an ISO week (Monday first) or a month,
from local midnight to local midnight (`zoneinfo`, so DST days have 23 or 25 hours). A schedule
`at` is when it is sent: `HH:MM` (day), `MON HH:MM` (week), `D HH:MM` with D in 1-28 (month).
At each send time the report covers the last period complete by then.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PERIODS = ("day", "week", "month")
WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
DEFAULT_AT = {"day": "08:00", "week": "MON 08:00", "month": "1 08:00"}
_AT = re.compile(r"^\s*(?:([A-Za-z]{3}|\d{1,2})\s+)?(\d{1,2}):(\d{2})\s*$")


def zone(name: str) -> ZoneInfo:
    try:
        if not 0 < len(name) <= 64 or "\x00" in name:  # the longest IANA name has 30
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a path
        raise ValueError(f"'{name}' is not an IANA time zone such as Europe/Paris or UTC") from None


def _start_date(period: str, d: date) -> date:
    if period == "day":
        return d
    if period == "week":
        return d - timedelta(days=d.weekday())
    if period == "month":
        return d.replace(day=1)
    raise ValueError(f"period: '{period}' is not one of {', '.join(PERIODS)}")


def _next_date(period: str, d: date) -> date:
    if period == "day":
        return d + timedelta(days=1)
    if period == "week":
        return d + timedelta(days=7)
    return d.replace(year=d.year + (d.month == 12), month=d.month % 12 + 1)


def _utc(d: date, tz: ZoneInfo, at: time = time(0)) -> datetime:
    return datetime.combine(d, at, tzinfo=tz).astimezone(UTC)


def period_containing(period: str, tz: ZoneInfo, t: datetime) -> tuple[datetime, datetime]:
    """The local calendar period holding `t`, as a UTC half-open range."""
    first = _start_date(period, t.astimezone(tz).date())
    return _utc(first, tz), _utc(_next_date(period, first), tz)


def last_complete(period: str, tz: ZoneInfo, now: datetime) -> tuple[datetime, datetime]:
    """The latest whole period that ended at or before `now`."""
    start, _ = period_containing(period, tz, now)
    first = _start_date(period, start.astimezone(tz).date() - timedelta(days=1))
    return _utc(first, tz), _utc(_next_date(period, first), tz)


def previous_of(period: str, tz: ZoneInfo, start: datetime) -> tuple[datetime, datetime]:
    """The calendar period just before the one starting at `start`."""
    return last_complete(period, tz, start)


@dataclass(frozen=True)
class At:
    hour: int
    minute: int
    weekday: int | None = None  # 0 = Monday (week)
    monthday: int | None = None  # 1-28 (month)


def parse_at(period: str, text: str | None) -> At:
    raw = text if text else DEFAULT_AT[period]
    m = _AT.match(raw)
    if not m:
        raise ValueError(f"at: '{raw}' is not like {DEFAULT_AT[period]!r}")
    day, hour, minute = m.group(1), int(m.group(2)), int(m.group(3))
    if hour > 23 or minute > 59:
        raise ValueError(f"at: '{raw}' is not a time of day")
    if period == "day":
        if day:
            raise ValueError(f"at: a daily report takes HH:MM, not '{raw}'")
        return At(hour, minute)
    if period == "week":
        if not day or day.upper() not in WEEKDAYS:
            raise ValueError("at: a weekly report takes a weekday and HH:MM such as 'MON 08:00'")
        return At(hour, minute, weekday=WEEKDAYS.index(day.upper()))
    monthday = int(day) if day and day.isdigit() else 1 if not day else 0
    if not 1 <= monthday <= 28:
        raise ValueError("at: a monthly report takes a day 1-28 and HH:MM such as '1 08:00'")
    return At(hour, minute, monthday=monthday)


def format_at(period: str, at: At) -> str:
    hm = f"{at.hour:02d}:{at.minute:02d}"
    if period == "week":
        return f"{WEEKDAYS[at.weekday or 0]} {hm}"
    if period == "month":
        return f"{at.monthday} {hm}"
    return hm


def latest_send_time(period: str, at: At, tz: ZoneInfo, now: datetime) -> datetime:
    """The most recent scheduled send time at or before `now` (UTC)."""
    local = now.astimezone(tz).date()
    clock = time(at.hour, at.minute)
    if period == "day":
        candidate = _utc(local, tz, clock)
        return candidate if candidate <= now else _utc(local - timedelta(days=1), tz, clock)
    if period == "week":
        d = _start_date("week", local) + timedelta(days=at.weekday or 0)
        candidate = _utc(d, tz, clock)
        return candidate if candidate <= now else _utc(d - timedelta(days=7), tz, clock)
    d = local.replace(day=at.monthday or 1)
    candidate = _utc(d, tz, clock)
    if candidate <= now:
        return candidate
    prev = _start_date("month", local.replace(day=1) - timedelta(days=1))
    return _utc(prev.replace(day=at.monthday or 1), tz, clock)


def due_period(
    period: str, at: At, tz: ZoneInfo, now: datetime
) -> tuple[datetime, datetime, datetime]:
    """(send time, period start, period end) of the latest send time at or before `now`."""
    sent = latest_send_time(period, at, tz, now)
    start, end = last_complete(period, tz, sent)
    return sent, start, end


def next_send_time(period: str, at: At, tz: ZoneInfo, now: datetime) -> datetime:
    step = {"day": timedelta(days=1), "week": timedelta(days=8), "month": timedelta(days=32)}
    later = latest_send_time(period, at, tz, now + step[period])
    # Walk back to the first send time after now (months and DST make steps uneven).
    while True:
        earlier = latest_send_time(period, at, tz, later - timedelta(seconds=1))
        if earlier <= now:
            return later
        later = earlier
