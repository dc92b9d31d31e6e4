"""Query parameters declared as data (`query.parse.Param`) read without a server: each error
names its parameter, repeated filters OR, metadata filters keep their key."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from starlette.datastructures import QueryParams

from promptpulse.errors import Invalid
from promptpulse.model import Filter
from promptpulse.query.parse import Errors, Param, ParamKind, read, read_scope
from promptpulse.query.requests import parse_breakdown, parse_series

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)


def _errors(query: str, *specs: Param) -> list[tuple[str, str]]:
    errors = Errors()
    read(specs, QueryParams(query), errors)
    return [(e.field, e.message) for e in errors.items]


def test_each_kind_reads_its_value_or_names_the_parameter() -> None:
    specs = (
        Param("n", ParamKind.INT, "", default=5, lo=1, hi=10),
        Param("x", ParamKind.NUMBER, "", default=0.05, lo=0, hi=0.5, example="0.05"),
        Param("c", ParamKind.CHOICE, "", default="a", choices=("a", "b")),
        Param("l", ParamKind.LIST, "", required=True),
        Param("t", ParamKind.TEXT, "", default="UTC"),
    )
    values = read(specs, QueryParams("n=7&x=0.1&c=b&l=p,q&l=r"), Errors())
    assert values == {"n": 7, "x": 0.1, "c": "b", "l": ["p", "q", "r"], "t": "UTC"}
    assert _errors("n=0&x=0.7&c=z&n=3", *specs) == [
        ("n", "may be given only once"),
        ("n", "must be between 1 and 10"),
        ("x", "must be between 0 and 0.5 (e.g. 0.05)"),
        ("c", "'z' is not one of a, b"),
        ("l", "is required"),
    ]
    assert _errors("n=ten&x=y", *specs[:2]) == [
        ("n", "'ten' is not an integer"),
        ("x", "'y' is not a number"),
    ]


def test_scope_reads_range_and_filters() -> None:
    errors = Errors()
    query = "from=2026-03-09&model=a&model=b&metadata.tier=pro&tag=beta&to=2026-03-10T06:00:00Z"
    scope = read_scope(QueryParams(query), NOW, errors)
    assert not errors.items
    assert (scope.start, scope.end) == (datetime(2026, 3, 9, tzinfo=UTC), NOW.replace(hour=6))
    assert scope.filters == (
        Filter("model", ("a", "b")),
        Filter("metadata.tier", ("pro",)),
        Filter("tag", ("beta",)),
    )
    read_scope(QueryParams("from=2026-03-11&metadata.b$d=x&model="), NOW, errors)
    assert [e.field for e in errors.items] == ["from", "metadata.b$d", "model"]


def test_typed_requests_raise_every_bad_field() -> None:
    series = parse_series(QueryParams("metrics=requests&group_by=model"), NOW)
    assert series.interval == "hour" and [m.name for m in series.metrics] == ["requests"]
    assert series.group_by is not None and series.group_by.name == "model"
    with pytest.raises(Invalid) as caught:
        parse_breakdown(QueryParams("sort=nope&order=up&limit=0&exact=maybe"), NOW)
    fields = [e.field for e in caught.value.errors]
    assert fields == ["by", "sort", "order", "limit", "exact"]


# -- bounded ranges (issue 17, items 3-4) ------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=0001-01-01T00:00:00%2B01:00", "from"),
        ("from=1999-12-31T00:00:00Z", "from"),
        ("to=9999-12-31T23:59:59-01:00", "to"),
        ("from=2001-01-01&to=2100-01-02", "to"),
    ],
)
def test_a_time_no_calendar_holds_is_refused_naming_it(query: str, field: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_series(QueryParams(query), NOW)
    assert field in [e.field for e in caught.value.errors]


def test_a_century_without_an_interval_stays_within_the_points_limit() -> None:
    from promptpulse.model import INTERVALS
    from promptpulse.query.parse import MAX_SERIES_POINTS

    request = parse_series(QueryParams("from=2000-01-01&to=2099-12-31"), NOW)
    step = INTERVALS[request.interval]
    span = request.scope.end - request.scope.start
    assert step is None or span / step <= MAX_SERIES_POINTS  # month (None): 1,200 points
    assert parse_series(QueryParams("from=2026-01-01&to=2026-03-01"), NOW).interval == "day"
