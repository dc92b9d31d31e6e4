"""The projection against the documented method recomputed with numpy on synthetic history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import pytest

from promptpulse.ingest.pipeline import prepare_events
from promptpulse.ingest.writer import Writer
from promptpulse.model import CATALOG, Filter
from promptpulse.query.forecast import period_bounds, project_period
from promptpulse.store.duck import DuckStore

NOW = datetime(2026, 3, 18, 6, 0, tzinfo=UTC)  # a Wednesday, 06:00


def _seed(tmp_path: Path, daily_cost: dict[datetime, float]) -> DuckStore:
    store = DuckStore(tmp_path / "e.duckdb")
    writer = Writer(store)
    writer.start()
    events = [
        {
            "timestamp": (day + timedelta(hours=h)).isoformat(),
            "model": "m",
            "latency_ms": 1,
            "cost_usd": cost / 4,
            "prompt_id": "a",
        }
        for day, cost in daily_cost.items()
        for h in (1, 2, 3, 4)
        if day + timedelta(hours=h) < NOW
    ]
    body = orjson.dumps({"events": events})
    prepared = prepare_events(
        body, key_project="p", overrides=lambda p, m, d: None, now=NOW, max_events=len(events)
    )
    writer.write_sync("events", prepared.table)
    writer.stop()
    return store


def test_projection_matches_the_documented_method(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    today = NOW.replace(hour=0)
    weekday_factor = [1.2, 1.1, 1.0, 1.0, 1.1, 0.6, 0.5]
    days = [today - timedelta(days=i) for i in range(40, 0, -1)] + [today]
    daily = {d: 100 * weekday_factor[d.weekday()] * rng.uniform(0.9, 1.1) for d in days}
    store = _seed(tmp_path, daily)
    start, end = period_bounds("month", NOW)
    got = project_period(store, (Filter("project", ("p",)),), CATALOG["cost_usd"], start, end, NOW)

    # Independent recomputation: 28 full days before today, weekday factors, last-7 run rate.
    hist = [today - timedelta(days=i) for i in range(28, 0, -1)]
    values = np.array([daily[d] for d in hist])
    factors = [values[[d.weekday() == w for d in hist]].mean() / values.mean() for w in range(7)]
    deseason = np.array([daily[d] / factors[d.weekday()] for d in hist])
    rate = deseason[-7:].mean()
    to_date = sum(c for d, c in daily.items() if start <= d < today)
    to_date += sum(daily[today] / 4 for h in (1, 2, 3, 4) if today + timedelta(hours=h) < NOW)
    rest = rate * factors[today.weekday()] * (18 / 24)
    d = today + timedelta(days=1)
    while d < end:
        rest += rate * factors[d.weekday()]
        d += timedelta(days=1)
    assert got.to_date == pytest.approx(to_date, rel=1e-9)
    assert got.projected == pytest.approx(to_date + rest, rel=1e-9)
    assert got.low <= got.projected <= got.high
    assert got.low >= got.to_date
    assert got.history_days == 28


def test_little_history_uses_flat_factors_and_skips_the_partial_first_day(tmp_path: Path) -> None:
    today = NOW.replace(hour=0)
    daily = {today - timedelta(days=i): 10.0 * (i + 1) for i in range(5, 0, -1)}
    store = _seed(tmp_path, daily)
    start, end = period_bounds("week", NOW)
    got = project_period(store, (), CATALOG["cost_usd"], start, end, NOW)
    kept = [10.0 * (i + 1) for i in range(4, 0, -1)]  # the first (oldest) day is skipped
    remaining_units = 18 / 24 + (end - today - timedelta(days=1)).days
    assert got.run_rate_per_day == pytest.approx(np.mean(kept))
    assert got.projected == pytest.approx(got.to_date + np.mean(kept) * remaining_units)


def test_non_additive_metric_is_refused(tmp_path: Path) -> None:
    store = _seed(tmp_path, {})
    with pytest.raises(ValueError, match="latency_p95_ms"):
        project_period(store, (), CATALOG["latency_p95_ms"], NOW, NOW + timedelta(days=1), NOW)
