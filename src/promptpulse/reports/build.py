"""build_report: a report from the store (figures, movers, recommendations through the query
layer and the catalog), the alert history and budgets (metadata database) and the forecast."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from promptpulse.meta import project_metrics
from promptpulse.model import CATALOG, Dimension, Scope, Sort
from promptpulse.query import engine
from promptpulse.query.custom import totals
from promptpulse.query.forecast import period_bounds, project_period
from promptpulse.reports.model import (
    AlertLine,
    BudgetLine,
    Figure,
    IncidentLine,
    Mover,
    Report,
    SpendForecast,
)
from promptpulse.reports.periods import previous_of, zone
from promptpulse.reports.recommend import MIN_REQUESTS, recommend
from promptpulse.store import Store

KEY_FIGURES: tuple[tuple[str, str], ...] = (
    ("requests", "Requests"),
    ("success_rate", "Success rate"),
    ("latency_p95_ms", "p95 latency"),
    ("cost_usd", "Cost"),
    ("tokens", "Tokens"),
    ("active_users", "Active users"),
)
PROMPT_METRICS = (
    "requests", "errors", "error_rate", "success_rate", "latency_p95_ms", "cost_usd",
    "cost_per_request_usd", "output_tokens", "output_tokens_per_request", "unpriced_requests",
)  # fmt: skip
MOVER_METRICS = ("cost_usd", "latency_p95_ms", "error_rate")
TOP_MOVERS = 5
ALL_ROWS = 100_000


def build_report(
    store: Store,
    scope: Scope,
    period: str,
    now: datetime,
    *,
    meta_engine: sa.Engine | None = None,
    timezone: str = "UTC",
    previous: Scope | None = None,
    min_requests: int = MIN_REQUESTS,
) -> Report:
    """The report of `scope` (a whole `period` in `timezone`) against the period before it."""
    tz = zone(timezone)
    if previous is None:
        p_start, p_end = previous_of(period, tz, scope.start)
        previous = Scope(p_start, p_end, scope.filters)
    current_flat = engine.flat_overview(store, scope)
    previous_flat = engine.flat_overview(store, previous)
    figures = [
        Figure(
            name,
            label,
            CATALOG[name].unit,
            _num(current_flat[name]),
            _num(previous_flat[name]),
            CATALOG[name].higher_is_better,
        )
        for name, label in KEY_FIGURES
    ]
    if meta_engine is not None:
        figures += custom_figures(store, meta_engine, scope, previous)
    cur_prompts = _by(store, scope, "prompt_id")
    prev_prompts = _by(store, previous, "prompt_id")
    by_model = _by_prompt_and_model(store, scope)
    project = _project(scope)
    title = f"PromptPulse {_ADJ[period]} report · {project or 'all projects'}"
    return Report(
        title=title,
        project=project,
        period=period,
        timezone=timezone,
        start=_iso(scope.start),
        end=_iso(scope.end),
        previous_start=_iso(previous.start),
        previous_end=_iso(previous.end),
        generated_at=_iso(now),
        figures=figures,
        movers=movers(cur_prompts, prev_prompts, min_requests),
        alerts=fired_alerts(meta_engine, scope, project) if meta_engine is not None else [],
        budgets=budget_lines(meta_engine, store, project, now) if meta_engine is not None else [],
        forecast=spend_forecast(store, scope, now),
        recommendations=recommend(cur_prompts, prev_prompts, by_model, min_requests),
        min_requests=min_requests,
        approximate=bool(current_flat.get("approximate") or previous_flat.get("approximate")),
        incidents=incident_lines(meta_engine, scope, project) if meta_engine is not None else [],
    )


_ADJ = {"day": "daily", "week": "weekly", "month": "monthly"}


def custom_figures(
    store: Store, meta_engine: sa.Engine, scope: Scope, previous: Scope
) -> list[Figure]:
    """The project's custom metrics, after the key figures (a report of one project only)."""
    custom = project_metrics(meta_engine, _project(scope))
    if not custom:
        return []
    now, before = (
        totals(store, scope, list(custom.values())),
        totals(store, previous, list(custom.values())),
    )
    return [
        Figure(m.name, m.description or m.name, m.unit, now[m.name], before[m.name],
               m.higher_is_better)
        for m in custom.values()
    ]  # fmt: skip


def _num(v: Any) -> float | None:
    return None if v is None else float(v)


def _project(scope: Scope) -> str | None:
    values = scope.filter_values("project")
    return values[0] if values and len(values) == 1 else None


def _by(store: Store, scope: Scope, dim: str) -> dict[str, dict[str, Any]]:
    """Per prompt: the catalog metrics the movers and recommendations read."""
    out = engine.breakdown(
        store,
        scope,
        Dimension(dim),
        [CATALOG[m] for m in PROMPT_METRICS],
        Sort("requests"),
        ALL_ROWS,
    )
    return {r[dim]: r for r in out["rows"] if r[dim] is not None}


def _by_prompt_and_model(store: Store, scope: Scope) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (prompt, model), for the cheaper-model recommendation: one grouped catalog query."""
    metrics = [CATALOG[m] for m in PROMPT_METRICS]
    rows = store.aggregate(scope, metrics, [Dimension("prompt_id"), Dimension("model")])
    return {(r.group[0], r.group[1]): r.values for r in rows if None not in r.group}


def movers(
    current: dict[str, dict[str, Any]],
    previous: dict[str, dict[str, Any]],
    min_requests: int,
    top: int = TOP_MOVERS,
) -> list[Mover]:
    """Per metric, the prompts that changed most (cost and error rate by absolute change, p95 by
    relative change), among prompts with at least `min_requests` calls in both periods."""
    out: list[Mover] = []
    for metric in MOVER_METRICS:
        found = []
        for prompt, cur in current.items():
            prev = previous.get(prompt)
            if prev is None or min(cur["requests"], prev["requests"]) < min_requests:
                continue
            a, b = cur[metric], prev[metric]
            if a is None or b is None or a == b:
                continue
            m = Mover(prompt, metric, CATALOG[metric].unit, float(a), float(b),
                      int(cur["requests"]), int(prev["requests"]))  # fmt: skip
            rank = abs(m.change or 0.0) if metric == "latency_p95_ms" else abs(m.delta)
            found.append((rank, prompt, m))
        found.sort(key=lambda x: (-x[0], x[1]))
        out += [m for _, _, m in found[:top]]
    return out


def fired_alerts(meta_engine: sa.Engine, scope: Scope, project: str | None) -> list[AlertLine]:
    """Alerts that fired in [start, end), from the alert history in the metadata database."""
    from promptpulse.alerts import tables as t

    if not sa.inspect(meta_engine).has_table(t.alerts.name):
        return []
    a = t.alerts.c
    q = (
        sa.select(t.alerts)
        .where(a.fired_at >= t.naive(scope.start), a.fired_at < t.naive(scope.end))
        .order_by(a.fired_at)
    )
    if project is not None:
        q = q.where(a.project == project)
    with meta_engine.connect() as conn:
        rows = conn.execute(q).all()
    return [
        AlertLine(
            id=r.id,
            name=r.name,
            severity=r.severity,
            state=r.state,
            metric=r.metric,
            project=r.project,
            value=r.value,
            threshold=r.threshold,
            reason=r.reason,
            fired_at=t.iso(r.fired_at) or "",
            resolved_at=t.iso(r.resolved_at),
        )
        for r in rows
    ]


def incident_lines(meta_engine: sa.Engine, scope: Scope, project: str | None) -> list[Any]:
    """MTTA and MTTR of the incidents opened in [start, end), per severity (GET
    /v1/incidents/stats?by=severity over the same range)."""
    from promptpulse.alerts import incident_stats
    from promptpulse.meta import incidents

    if not sa.inspect(meta_engine).has_table(incidents.name):
        return []
    rows = incident_stats(meta_engine, project, scope.start, scope.end, "severity")
    return [IncidentLine(severity=r.pop("key") or "", **r) for r in rows]


def budget_lines(
    meta_engine: sa.Engine, store: Store, project: str | None, now: datetime
) -> list[BudgetLine]:
    from promptpulse.budgets.service import budget_status, budgets, repo

    if not sa.inspect(meta_engine).has_table(budgets.name):
        return []
    out = []
    for rec in repo.list(meta_engine, project):
        b = rec.spec
        if not b.enabled:
            continue
        s = budget_status(store, b, now)
        out.append(
            BudgetLine(
                name=b.name,
                metric=b.metric,
                period=b.period,
                period_start=s["period_start"],
                period_end=s["period_end"],
                amount=b.amount,
                spent=s["spent"],
                spent_ratio=s["spent_ratio"],
                projected=s["projected"],
                projected_low=s["projected_low"],
                projected_high=s["projected_high"],
                will_overrun=bool(s["will_overrun"]),
            )
        )
    return out


def spend_forecast(store: Store, scope: Scope, now: datetime) -> SpendForecast:
    start, end = period_bounds("month", now)
    f = project_period(store, scope.filters, CATALOG["cost_usd"], start, end, now)
    return SpendForecast(f.period_start, f.period_end, f.to_date, f.projected, f.low, f.high,
                         f.method)  # fmt: skip


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")
