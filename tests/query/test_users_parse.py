"""Parsing of the /v1/users requests: defaults and every bad field named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from starlette.datastructures import QueryParams

from promptpulse.errors import Invalid
from promptpulse.query import users

NOW = datetime(2026, 3, 5, 12, tzinfo=UTC)


def test_defaults_are_the_last_30_days_by_day_and_days_1_7_30() -> None:
    for raw in ("", "from="):
        a = users.parse_activity(QueryParams(raw), NOW)
        assert (a.scope.start, a.scope.end, a.interval) == (NOW - timedelta(days=30), NOW, "day")
    r = users.parse_retention(QueryParams("days=30,7,1,7"), NOW)
    assert r.days == (1, 7, 30)
    t = users.parse_top(QueryParams("sort=cost_usd&order=asc&limit=5"), NOW)
    assert (t.sort.metric, t.sort.descending, t.limit) == ("cost_usd", False, 5)
    u = users.parse_user("a/b", QueryParams("from=2026-03-01&user_id=other"), NOW)
    assert u.scope.filter_values("user_id") == ("a/b",)  # the path wins over a filter
    assert u.scope.start == datetime(2026, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("parse", "raw", "field"),
    [
        (users.parse_activity, "interval=hour", "interval"),
        (users.parse_activity, "from=2000-01-01&to=2026-01-01", "from"),
        (users.parse_retention, "days=", "days"),
        (users.parse_retention, "days=367", "days"),
        (users.parse_retention, "days=1,-2", "days"),
        (users.parse_retention, "days=" + ",".join(str(k) for k in range(1, 14)), "days"),
        (users.parse_top, "sort=nope", "sort"),
        (users.parse_top, "limit=1001", "limit"),
    ],
)
def test_bad_input_names_the_field(parse, raw: str, field: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Invalid) as err:
        parse(QueryParams(raw), NOW)
    assert field in {e.field for e in err.value.errors}


def test_an_empty_user_id_is_refused() -> None:
    with pytest.raises(Invalid) as err:
        users.parse_user("", QueryParams(""), NOW)
    assert [e.field for e in err.value.errors] == ["user_id"]
