"""Durations and time zones no calendar holds are refused with the field named (issue 17, Low)."""

from __future__ import annotations

import pytest

from promptpulse.alerts.rules import parse_duration
from promptpulse.reports.periods import zone


@pytest.mark.parametrize("text", ["9999999999w", "99999999999999999999999d", "401d"])
def test_a_duration_beyond_400_days_is_refused_naming_the_field(text: str) -> None:
    with pytest.raises(ValueError, match="window: at most 400 days"):
        parse_duration(text, "window")


def test_400_days_is_fine() -> None:
    assert parse_duration("400d", "window").days == 400


@pytest.mark.parametrize("name", ["A" * 300, "Europe/\x00Paris", "", "../../etc/passwd"])
def test_a_time_zone_that_is_no_iana_name_is_a_value_error(name: str) -> None:
    with pytest.raises(ValueError, match="IANA time zone"):
        zone(name)
