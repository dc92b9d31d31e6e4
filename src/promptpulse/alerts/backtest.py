"""Backtests: what a rule (budget, SLO) would have done over a past range, before it is saved.

The live evaluator's own code runs on a simulated clock: at each step the rule is judged by
`judge_rules` (the same fetch plan, metric values and verdict as a live round), and the verdicts
drive `state.advance` (pending, `for`, firing, resolved) in a fresh in-memory state machine.
Nothing is written to the metadata database and nothing is sent. The only difference from a live
round is where the windows' values come from: the calls of the rule's scope read once into a
`ReplayStore`, which answers every window exactly as the store would (see replay.py).

Bounds, so a backtest is one quick request: a range of at most 31 days, a step of at least one
minute (the clock takes the values from, from + step, ... before to), at most 2,000,000 calls
read, and a step doubled (and said so: `coarsened`) until the windows to read fit a work budget.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from promptpulse.alerts.evaluate import Verdict
from promptpulse.alerts.fetch import Fetcher, target_of
from promptpulse.alerts.replay import ReplayError, ReplayStore, fields_for
from promptpulse.alerts.repo import RuleRecord
from promptpulse.alerts.rule_round import BASELINE_STEP, judge_rules
from promptpulse.alerts.rules import SCORE_PREFIX, RuleIn
from promptpulse.alerts.state import OpenAlert, Subject, advance
from promptpulse.errors import invalid
from promptpulse.model import CATALOG, Filter, Kind, Metric, Op, Scope
from promptpulse.store import Store

MAX_RANGE = timedelta(days=31)
MIN_STEP = timedelta(minutes=1)
MAX_CALLS = 2_000_000
WORK_LIMIT = 150_000_000  # call values read over all steps (slices), before the step doubles
MAX_POINTS = 1_500  # per series, for the chart
MAX_SERIES = 10
Key = tuple[str, str, str]
JudgeAt = Callable[[datetime, set[Key]], Sequence[tuple[Subject, Verdict]]]


@dataclass(frozen=True)
class Range:
    start: datetime
    end: datetime
    step: timedelta
    coarsened: bool = False

    @property
    def steps(self) -> int:
        return math.ceil((self.end - self.start) / self.step)

    def times(self) -> list[datetime]:
        return [self.start + k * self.step for k in range(self.steps)]


def check_range(
    start: datetime | None, end: datetime | None, step: timedelta, now: datetime, days: int = 30
) -> Range:
    """The range asked for, or a 422 naming the field: from < to <= now, at most 31 days."""
    end = (end or now).astimezone(UTC)
    start = (start or end - timedelta(days=days)).astimezone(UTC)
    if step < MIN_STEP:
        raise invalid("step", "at least 1m")
    if start >= end:
        raise invalid("from", "must be before to")
    if end > now:
        raise invalid("to", "a backtest replays the past: to must not be after now")
    if end - start > MAX_RANGE:
        raise invalid("from", f"a backtest covers at most {MAX_RANGE.days} days")
    return Range(start, end, step)


def load(
    store: Store, filters: tuple[Filter, ...], fields: Sequence[str], start: datetime, end: datetime
) -> ReplayStore:
    """The scope's calls in [start, end) in memory, after counting them against MAX_CALLS."""
    scope = Scope(start, end, filters)
    n = int(store.aggregate(scope, [CATALOG["requests"]])[0]["requests"] or 0)
    if n > MAX_CALLS:
        raise invalid(
            "from",
            f"the range and its look-back hold {n:,} calls; a backtest reads at most "
            f"{MAX_CALLS:,}: shorten the range or narrow the filters",
        )
    return ReplayStore(store.call_table(scope, fields), filters, start, end)


def coarsen(rng: Range, replay: ReplayStore, windows: Sequence[timedelta], sliced: bool) -> Range:
    """Double the step until the values read per window times the steps fit WORK_LIMIT (only
    when windows are read by slices: counts and sums are O(1) a window)."""
    if not sliced or replay.n == 0:
        return rng
    span = (replay.end - replay.start).total_seconds()
    per_step = sum(replay.n * w.total_seconds() / span for w in windows)
    step = rng.step
    while per_step * math.ceil((rng.end - rng.start) / step) > WORK_LIMIT:
        step *= 2
    return Range(rng.start, rng.end, step, step != rng.step)


def needs_slices(metrics: Sequence[Metric], grouped: bool) -> bool:
    if grouped:
        return True
    for m in metrics:
        if m.kind is Kind.QUANTILE or any(a.op in (Op.MAX, Op.DISTINCT) for a in m.parts):
            return True
    return False


@dataclass
class _Firing:
    subject: Subject
    start: datetime
    value: float | None
    threshold: float | None
    end: datetime | None = None
    peak: float | None = None


@dataclass
class _Sim:
    rng: Range
    alerts: dict[Key, OpenAlert] = field(default_factory=dict)
    open: dict[Key, _Firing] = field(default_factory=dict)
    done: list[_Firing] = field(default_factory=list)
    series: dict[Key, list[list[Any]]] = field(default_factory=dict)
    names: dict[Key, str] = field(default_factory=dict)


def simulate(judge_at: JudgeAt, rng: Range) -> dict[str, Any]:
    """Step the clock over the range; each step's verdicts advance the alerts as a live round
    does (no silences: a backtest asks what the condition would have done)."""
    sim = _Sim(rng)
    stride = max(1, math.ceil(rng.steps / MAX_POINTS))
    for k, now in enumerate(rng.times()):
        for subject, verdict in judge_at(now, set(sim.alerts)):
            _step(sim, subject, verdict, now)
            if k % stride == 0:
                _point(sim, subject, verdict, now)
    return _result(sim)


def _step(sim: _Sim, s: Subject, v: Verdict, now: datetime) -> None:
    alert = sim.alerts.get(s.key)
    step = advance(alert, v.breached, now, s.for_, s.renotify, False)
    if step.state is None:
        return
    notified = now if step.notify else (alert.notified_at if alert else None)
    if alert is None:
        fired = now if step.state == "firing" else None
        alert = OpenAlert("backtest", step.state, now, fired, notified)
    elif step.state != "resolved":
        fired = now if step.event == "firing" else alert.fired_at
        alert = OpenAlert(alert.id, step.state, alert.started_at, fired, notified)
    if step.event == "firing":
        sim.open[s.key] = _Firing(s, now, v.value, v.threshold, peak=v.value)
    firing = sim.open.get(s.key)
    if firing is not None and v.value is not None:
        firing.peak = v.value if firing.peak is None else _worse(s, firing.peak, v.value)
    if step.state == "resolved":
        sim.alerts.pop(s.key, None)
        if firing is not None:
            firing.end = now
            sim.done.append(sim.open.pop(s.key))
    else:
        sim.alerts[s.key] = alert


def _worse(s: Subject, a: float, b: float) -> float:
    m = CATALOG.get(s.metric)
    return min(a, b) if m is not None and m.higher_is_better else max(a, b)


def _point(sim: _Sim, s: Subject, v: Verdict, now: datetime) -> None:
    points = sim.series.get(s.key)
    if points is None:
        if len(sim.series) >= MAX_SERIES:
            return
        points = sim.series[s.key] = []
        sim.names[s.key] = s.name
    points.append([_iso(now), v.value, v.threshold])


def _result(sim: _Sim) -> dict[str, Any]:
    rng = sim.rng
    firings = sorted([*sim.done, *sim.open.values()], key=lambda f: (f.start, f.subject.name))
    minutes = sum(((f.end or rng.end) - f.start).total_seconds() / 60 for f in firings)
    return {
        "from": _iso(rng.start),
        "to": _iso(rng.end),
        "step": f"{int(rng.step.total_seconds())}s",
        "steps": rng.steps,
        "coarsened": rng.coarsened,
        "count": len(firings),
        "minutes": round(minutes, 3),
        "firings": [
            {
                "start": _iso(f.start),
                "end": _iso(f.end) if f.end else None,
                "ongoing": f.end is None,
                "minutes": round(((f.end or rng.end) - f.start).total_seconds() / 60, 3),
                "value": f.value,
                "peak": f.peak,
                "threshold": f.threshold,
                "subject": f.subject.name,
                "scope_key": f.subject.scope_key,
            }
            for f in firings
        ],
        "series": [
            {"subject": sim.names[k], "scope_key": k[2], "points": pts}
            for k, pts in sim.series.items()
        ],
    }


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


# ------------------------------------------------------------ rules


def rule_lookback(rule: RuleIn) -> timedelta:
    """How far before a step the rule's windows reach (past windows of change and anomaly)."""
    window = rule.window_td
    if rule.operator == "anomaly":
        return window + BASELINE_STEP + timedelta(weeks=rule.baseline_weeks)
    if rule.operator in ("increase", "decrease"):
        return window + (window if rule.baseline == "previous" else timedelta(weeks=1))
    return window


def check_rule(rule: RuleIn) -> None:
    if (rule.metric or "").startswith(SCORE_PREFIX):
        raise invalid("metric", "backtests replay calls; score.* metrics cannot be backtested yet")
    if rule.metric is not None and rule.metric not in CATALOG:  # a custom metric, or a typo
        raise invalid(
            "metric",
            f"'{rule.metric}' is not a catalog metric (see /v1/metrics/catalog); custom metrics "
            "cannot be backtested yet",
        )
    if rule.group_by is not None and rule.group_by.startswith("metadata."):
        raise invalid("group_by", "backtests group by a call field, not metadata.*")


def backtest_rule(
    store: Store,
    rule: RuleIn,
    start: datetime | None,
    end: datetime | None,
    step: timedelta,
    now: datetime,
) -> dict[str, Any]:
    """The rule's firings over [start, end) as the live evaluator would have raised them."""
    check_rule(rule)
    rng = check_range(start, end, step, now)
    target = target_of(rule)
    metrics = [CATALOG[rule.metric or ""], CATALOG["requests"]]
    fields = [*fields_for(metrics), *([target.dim] if target.dim else [])]
    replay = load(store, rule.scope_filters(), fields, rng.start - rule_lookback(rule), rng.end)
    windows = [rule.window_td] * (1 + (rule.baseline_weeks if rule.operator == "anomaly" else 0))
    rng = coarsen(rng, replay, windows, needs_slices(metrics, target.dim is not None))
    rec = RuleRecord("backtest", rule, now, now)
    cache: dict[Any, Any] = {}

    def judge_at(t: datetime, open_keys: set[Key]) -> list[tuple[Subject, Verdict]]:
        judged, errors = judge_rules([rec], Fetcher(replay, cache), t, open_keys)  # type: ignore[arg-type]
        if errors:
            raise ReplayError(errors[0]["error"])
        return [(j.subject, j.verdict) for j in judged]

    return {**simulate(judge_at, rng), "calls": replay.n, "warnings": warnings_of(store, replay)}


def warnings_of(store: Store, replay: ReplayStore) -> list[str]:
    out = []
    if replay.n == 0:
        out.append("no calls matched the filters in the range or its look-back")
    scope = Scope(replay.start, replay.end, tuple(Filter(d, v) for d, v in replay.filters))
    if store.raw_incomplete(scope):
        out.append("retention removed raw calls in this range: the backtest saw only what is left")
    return out
