"""An SLO's backtest: its burn-rate alerts over a past range, from the same `judge` a live round
runs, on a simulated clock over the scope's calls in memory (see `promptpulse.alerts.backtest`).
A latency SLI reads its windows' latencies (a slice each), so its step may be coarsened. A custom
SLI over call columns replays its terms (prefix sums); one over scores cannot be replayed (the
replay holds calls only) and is refused."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from promptpulse.alerts import check_range, load, simulate
from promptpulse.alerts.backtest import coarsen, warnings_of
from promptpulse.alerts.replay import fields_for
from promptpulse.alerts.rules import parse_duration
from promptpulse.alerts.specs import Record
from promptpulse.errors import invalid
from promptpulse.model import CATALOG
from promptpulse.slos.service import SloIn, judge
from promptpulse.slos.sli import Proportion
from promptpulse.store import Store


def backtest_slo(
    store: Store,
    slo: SloIn,
    start: datetime | None,
    end: datetime | None,
    step: timedelta,
    now: datetime,
    ratio: Proportion | None = None,
) -> dict[str, Any]:
    """`ratio`: a custom SLI's terms (`slos.service.ratio_of`)."""
    rng = check_range(start, end, step, now)
    windows = [parse_duration(slo.window)]
    windows += [parse_duration(w) for a in slo.burn_alerts for w in (a.long, a.short)]
    fields = fields_for([CATALOG["requests"], CATALOG["errors"]])
    if slo.sli == "latency":
        fields.append("latency_ms")
    if slo.sli == "custom":
        fields += _term_fields(ratio)
    replay = load(store, slo.scope_filters(), fields, rng.start - max(windows), rng.end)
    rng = coarsen(rng, replay, windows, slo.sli == "latency")
    rec = Record("backtest", slo, now, now)
    out = simulate(lambda t, _open: judge(replay, rec, t, ratio), rng)  # type: ignore[arg-type]
    return {**out, "calls": replay.n, "warnings": warnings_of(store, replay)}


def _term_fields(ratio: Proportion | None) -> list[str]:
    """The call columns a custom SLI's terms read; a 422 when they read scores."""
    if ratio is None:
        raise invalid("metric", "a custom SLI's metric was not resolved")
    if any(t.score for t in ratio.terms):
        raise invalid(
            "metric",
            "backtests replay calls, not scores: an SLI over score.* cannot be backtested; "
            "its status and history are live",
        )
    return [t.column for t in ratio.terms if t.column]
