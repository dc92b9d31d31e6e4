"""Projected totals for the rest of a period (month, week, day): spend, calls, tokens.

Method: daily totals of the last 28 days give weekday factors (Monday traffic is not Sunday
traffic); the recent run rate is the mean of the last 7 deseasonalised days; the rest of the
period is run rate x weekday factor per remaining day. The 95 % interval combines day-to-day
noise and the uncertainty of the run rate. Simple on purpose: it is explainable in one sentence
and robust with little history; with under 14 days of history the weekday factors are all 1.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from promptpulse.model import Filter, Metric, Scope
from promptpulse.query.engine import bucket_starts
from promptpulse.store import Store

HISTORY_DAYS = 28
RUN_RATE_DAYS = 7
Z95 = 1.959964


@dataclass(frozen=True)
class Forecast:
    metric: str
    period_start: str
    period_end: str
    now: str
    to_date: float
    projected: float
    low: float
    high: float
    run_rate_per_day: float
    history_days: int
    method: str
    daily: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def period_bounds(period: str, now: datetime) -> tuple[datetime, datetime]:
    """The UTC calendar period containing `now`: day, ISO week or month."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day, day + timedelta(days=1)
    if period == "week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    if period == "month":
        start = day.replace(day=1)
        return start, start.replace(
            year=start.year + (start.month == 12), month=start.month % 12 + 1
        )
    raise ValueError(f"unknown period {period}")


def _daily_totals(
    store: Store, metric: Metric, filters: tuple[Filter, ...], start: datetime, end: datetime
) -> dict[datetime, float]:
    if start >= end:
        return {}
    rows = store.aggregate(Scope(start, end, filters), [metric], interval="day")
    return {r.t: float(r[metric.name] or 0) for r in rows if r.t is not None}


def project_period(
    store: Store,
    filters: tuple[Filter, ...],
    metric: Metric,
    period_start: datetime,
    period_end: datetime,
    now: datetime,
) -> Forecast:
    if not metric.additive:
        raise ValueError(f"{metric.name} does not add up over days; it cannot be projected")
    now = min(max(now, period_start), period_end)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    days, deseasonalised, factors = _history(store, metric, filters, today)
    recent = deseasonalised[-RUN_RATE_DAYS:]
    run_rate = float(recent.mean()) if len(recent) else 0.0
    noise = float(deseasonalised.std(ddof=1)) if len(deseasonalised) > 1 else 0.0

    in_period = _daily_totals(store, metric, filters, period_start, now)
    to_date = float(sum(in_period.values()))
    daily, expected_rest, units = _days_of_period(
        in_period, period_start, period_end, now, run_rate, factors
    )
    n = max(len(deseasonalised), 1)
    spread = Z95 * math.sqrt(units * noise**2 + (units * noise) ** 2 / n) if noise else 0.0
    projected = to_date + expected_rest
    # Plain floats: numpy scalars would leak numpy.bool into callers' comparisons.
    return Forecast(
        metric=metric.name,
        period_start=_iso(period_start),
        period_end=_iso(period_end),
        now=_iso(now),
        to_date=float(to_date),
        projected=float(projected),
        low=float(max(to_date, projected - spread)),
        high=float(projected + spread),
        run_rate_per_day=float(run_rate),
        history_days=len(days),
        method="weekday-seasonal run rate over the last 7 of 28 days",
        daily=daily,
    )


def _history(
    store: Store, metric: Metric, filters: tuple[Filter, ...], today: datetime
) -> tuple[list[datetime], np.ndarray, list[float]]:
    """The days of history used (from the first with data), their weekday-deseasonalised
    totals, and the weekday factors."""
    history_start = today - timedelta(days=HISTORY_DAYS)
    history = _daily_totals(store, metric, filters, history_start, today)
    observed_days = sorted(history)
    # Days before the first day with data are "not yet using it", not zero traffic.
    days = [history_start + timedelta(days=i) for i in range(HISTORY_DAYS)]
    # The first day with data, when it falls inside the window, is usually a partial one (the
    # day they started sending): skip it when there is more to go on.
    first = observed_days[0] if observed_days else None
    if first is not None and first > history_start and len(observed_days) >= 3:
        first += timedelta(days=1)
    days = [d for d in days if first is not None and d >= first]
    values = np.array([history.get(d, 0.0) for d in days])
    factors = _weekday_factors(days, values)
    deseasonalised = np.array([v / factors[d.weekday()] for d, v in zip(days, values, strict=True)])
    return days, deseasonalised, factors


def _days_of_period(
    in_period: dict[datetime, float],
    period_start: datetime,
    period_end: datetime,
    now: datetime,
    run_rate: float,
    factors: list[float],
) -> tuple[list[dict[str, Any]], float, float]:
    """Per day of the period, actual (past days, today so far) and expected (today's remaining
    fraction and the days ahead); the expected rest; the remaining days in day units."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    expected_rest = 0.0
    units = 0.0  # remaining days, in day units (today counts by its remaining fraction)
    daily: list[dict[str, Any]] = []
    for day in bucket_starts(period_start, period_end, "day"):
        actual = in_period.get(day)
        if day < today:
            daily.append(
                {"date": day.date().isoformat(), "actual": actual or 0.0, "expected": None}
            )
            continue
        fraction = 1.0 if day > today else (day + timedelta(days=1) - now) / timedelta(days=1)
        expected = float(run_rate * factors[day.weekday()] * fraction)
        expected_rest += expected
        units += fraction
        daily.append(
            {
                "date": day.date().isoformat(),
                "actual": actual if day == today else None,
                "expected": expected,
            }
        )
    return daily, expected_rest, units


def _weekday_factors(days: list[datetime], values: np.ndarray) -> list[float]:
    if len(days) < 14 or values.mean() <= 0:
        return [1.0] * 7
    overall = values.mean()
    factors = []
    for weekday in range(7):
        mine = [v for d, v in zip(days, values, strict=True) if d.weekday() == weekday]
        factors.append(float(np.mean(mine)) / overall if mine and np.mean(mine) > 0 else 1.0)
    return factors


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")
