"""Local calendar periods and schedule times, DST included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from promptpulse.reports import periods as p
from promptpulse.reports.schedules import ScheduleIn

PARIS = p.zone("Europe/Paris")


def test_last_complete_week_in_paris_is_monday_to_monday_local() -> None:
    now = datetime(2026, 3, 16, 7, 30, tzinfo=UTC)  # Monday 08:30 in Paris (CET)
    start, end = p.last_complete("week", PARIS, now)
    assert start == datetime(2026, 3, 8, 23, 0, tzinfo=UTC)
    assert end == datetime(2026, 3, 15, 23, 0, tzinfo=UTC)


def test_a_week_across_the_dst_change_has_167_hours() -> None:
    start, end = p.last_complete("week", PARIS, datetime(2026, 4, 1, tzinfo=UTC))
    assert end - start == timedelta(hours=167)
    m_start, m_end = p.last_complete("month", PARIS, datetime(2026, 4, 1, 12, tzinfo=UTC))
    assert (m_start, m_end) == (
        datetime(2026, 2, 28, 23, tzinfo=UTC),
        datetime(2026, 3, 31, 22, tzinfo=UTC),
    )


def test_due_period_and_next_send_time() -> None:
    at = p.parse_at("week", "mon 08:00")
    before = datetime(2026, 3, 16, 6, 59, tzinfo=UTC)  # 07:59 Paris
    after = datetime(2026, 3, 16, 7, 0, tzinfo=UTC)  # 08:00 Paris
    assert p.due_period("week", at, PARIS, before)[2] == datetime(2026, 3, 8, 23, tzinfo=UTC)
    assert p.due_period("week", at, PARIS, after)[2] == datetime(2026, 3, 15, 23, tzinfo=UTC)
    assert p.next_send_time("week", at, PARIS, before) == after
    day = p.parse_at("day", "23:30")
    assert p.next_send_time("day", day, p.zone("UTC"), after) == datetime(
        2026, 3, 16, 23, 30, tzinfo=UTC
    )
    month = p.parse_at("month", None)
    assert p.next_send_time("month", month, p.zone("UTC"), after) == datetime(
        2026, 4, 1, 8, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("period", "at", "message"),
    [
        ("week", "08:00", "weekday"),
        ("day", "MON 08:00", "HH:MM"),
        ("month", "31 08:00", "1-28"),
        ("week", "MON 25:00", "time of day"),
    ],
)
def test_bad_times_are_named(period: str, at: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        p.parse_at(period, at)


def test_schedule_validation() -> None:
    s = ScheduleIn.model_validate(
        {"period": "week", "at": "tue 9:05", "channels": [{"type": "file", "dir": "x"}]}
    )
    assert s.at == "TUE 09:05" and s.name == "week report" and s.timezone == "UTC"
    with pytest.raises(ValueError, match="IANA"):
        ScheduleIn.model_validate(
            {"timezone": "Mars/Olympus", "channels": [{"type": "file", "dir": "x"}]}
        )
    with pytest.raises(ValueError, match="email"):
        ScheduleIn.model_validate({"channels": [{"type": "email", "to": ["not-an-address"]}]})
