"""A budget's backtest: its threshold and forecast alerts over a past range, from the same
`judge_budget` a live round runs (spend to date and the projection of `budget_status`) on a
simulated clock over the scope's calls in memory (see `promptpulse.alerts.backtest`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from promptpulse.alerts import check_range, load, simulate
from promptpulse.alerts.backtest import warnings_of
from promptpulse.alerts.replay import fields_for
from promptpulse.alerts.specs import Record
from promptpulse.budgets.service import BudgetIn, judge_budget
from promptpulse.errors import invalid
from promptpulse.model import CATALOG
from promptpulse.query.forecast import HISTORY_DAYS
from promptpulse.store import Store


def backtest_budget(
    store: Store,
    budget: BudgetIn,
    start: datetime | None,
    end: datetime | None,
    step: timedelta,
    now: datetime,
) -> dict[str, Any]:
    rng = check_range(start, end, step, now)
    if budget.period == "custom":
        assert budget.starts_at is not None and budget.ends_at is not None
        if budget.starts_at >= rng.end or budget.ends_at <= rng.start:
            raise invalid("from", "the budget's custom period does not overlap the range")
    period_start = budget.bounds(rng.start)[0]
    day = rng.start.replace(hour=0, minute=0, second=0, microsecond=0)
    lo = min(period_start, day - timedelta(days=HISTORY_DAYS))  # the forecast's history too
    fields = fields_for([CATALOG[budget.metric]])
    replay = load(store, budget.scope_filters(), fields, lo, rng.end)
    rec = Record("backtest", budget, now, now)
    out = simulate(lambda t, _open: judge_budget(replay, rec, t), rng)  # type: ignore[arg-type]
    return {**out, "calls": replay.n, "warnings": warnings_of(store, replay)}
