"""A series' time bucket as a key of the scan that groups by it.

Grouping by `date_trunc('hour', timestamp)` costs DuckDB a hash table of timestamps. A unit of
one length (a minute, an hour, a day: UTC has no other) has a number instead, the units since
1970, and DuckDB knows that integer's range from the column's statistics: grouping by it is
grouping by array index (its perfect hash aggregate). The 30-day hourly series of 10 M calls
took 53 ms by date_trunc and 41 ms by number. A row's key is still the bucket's start, a
TIMESTAMP as date_trunc's, made once per group from the number.
"""

from __future__ import annotations

from promptpulse.store.duck.histograms import DAY_US, HOUR_US, unit_number_sql
from promptpulse.store.duck.minutes import MINUTE_US

UNIT_US = {"minute": MINUTE_US, "hour": HOUR_US, "day": DAY_US}
NUMBER_SQL = {unit: unit_number_sql(us) for unit, us in UNIT_US.items()}


def time_key(interval: str) -> str:
    """The expression of a call's bucket start in a series by `interval`."""
    if interval in NUMBER_SQL:
        return f"make_timestamp(({NUMBER_SQL[interval]}) * {UNIT_US[interval]})"
    return f"date_trunc('{interval}', timestamp)"  # weeks and months: as DuckDB starts them


NUMBERED = {time_key(unit): (NUMBER_SQL[unit], UNIT_US[unit]) for unit in NUMBER_SQL}


def group_term(alias: str, expr: str) -> str:
    """What a scan groups a key by: a numbered bucket by its number, any other key by alias."""
    return NUMBERED[expr][0] if expr in NUMBERED else alias


def group_by_sql(keys: list[tuple[str, str]], *more: str) -> str:
    """The GROUP BY clause of a scan over `keys` (alias, expression), and `more` aliases."""
    terms = [*(group_term(alias, expr) for alias, expr in keys), *more]
    return " GROUP BY " + ", ".join(terms) if terms else ""


def grouped_bucket(expr: str, column: str) -> tuple[str, str]:
    """For a query that groups calls by their bucket `expr` in a subquery column `column`: what
    the subquery selects per call, and what the outer query selects as the bucket's start."""
    if expr in NUMBERED:
        number, unit_us = NUMBERED[expr]
        return number, f"make_timestamp({column} * {unit_us})"
    return expr, column
