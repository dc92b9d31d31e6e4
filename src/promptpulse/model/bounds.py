"""The times a user may give, once: a call, a query range, a budget period or a report date
outside these is refused with the field named, before any calendar arithmetic can overflow or a
range from year 1 to 9999 can cost minutes of CPU."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# No LLM call happened before this; an older time is a client bug (a zero value, seconds read
# as milliseconds), and year 1 with an offset would not even fit a timestamp column.
TIME_FLOOR = datetime(2000, 1, 1, tzinfo=UTC)
# Far enough for any plan or forecast, near enough that a period's arithmetic stays in range.
TIME_CEILING = datetime(2100, 1, 1, tzinfo=UTC)
# A custom budget period: a year and a bit (a fiscal year with slack), not a century.
MAX_CUSTOM_PERIOD = timedelta(days=400)


def utc_within(value: datetime, field: str) -> datetime:
    """`value` in UTC if it lies in [TIME_FLOOR, TIME_CEILING); else ValueError naming `field`."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is in year 0 once in UTC
        raise ValueError(f"{field}: is out of range once converted to UTC") from None
    if utc < TIME_FLOOR:
        raise ValueError(f"{field}: is before {TIME_FLOOR.date().isoformat()}")
    if utc >= TIME_CEILING:
        raise ValueError(f"{field}: is not before {TIME_CEILING.date().isoformat()}")
    return utc
