"""SLOs: model, status, history and multi-window multi-burn-rate alerts.

Burn rate over a window = (bad calls / calls) / (1 - objective): 1 spends exactly the error
budget over the SLO window. Alerts follow the Google SRE workbook (chapter "Alerting on SLOs"):
page when 14.4x over 1 h and 5 m (2 % of a 30-day budget in an hour), page when 6x over 6 h and
30 m (5 % in six hours), ticket when 1x over 3 d and 6 h (10 % in three days). The short window
makes the alert resolve soon after the burn stops.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import numpy as np
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from promptpulse.alerts import SpecSource, isolated
from promptpulse.alerts.evaluate import Verdict
from promptpulse.alerts.rules import (
    ScopedSpec,
    check_filters,
    filter_lists,
    format_duration,
    parse_duration,
)
from promptpulse.alerts.specs import Record, SpecRepo
from promptpulse.alerts.state import Subject
from promptpulse.meta import slos
from promptpulse.model import CATALOG, Scope, fmt
from promptpulse.notify import ChannelSpec
from promptpulse.query.engine import bucket_starts
from promptpulse.slos.sli import Proportion, resolve
from promptpulse.store import Store


class BurnAlert(BaseModel):
    model_config = ConfigDict(extra="forbid")

    long: str
    short: str
    burn_rate: float = Field(..., gt=0)
    severity: Literal["info", "warning", "critical"] = "critical"


DEFAULT_BURN_ALERTS = [
    BurnAlert(long="1h", short="5m", burn_rate=14.4, severity="critical"),
    BurnAlert(long="6h", short="30m", burn_rate=6, severity="critical"),
    BurnAlert(long="3d", short="6h", burn_rate=1, severity="warning"),
]


class SloIn(ScopedSpec, BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=200)
    sli: Literal["success_rate", "latency", "custom"] = "success_rate"
    latency_threshold_ms: float | None = Field(None, gt=0, allow_inf_nan=False)
    metric: str | None = Field(
        None,
        max_length=63,
        description="custom: the project's custom metric that is a proportion of calls "
        "(good / valid), e.g. fast_share = count(latency_ms < 2000) / requests",
    )
    objective: float = Field(..., gt=0, lt=1, description="e.g. 0.995")
    window: str = Field("30d", description="Rolling window")
    filters: dict[str, list[str]] = Field(default_factory=dict)
    burn_alerts: list[BurnAlert] = Field(default_factory=lambda: list(DEFAULT_BURN_ALERTS))
    min_requests: int = Field(10, ge=0, description="Calls needed in the long window to alert")
    channels: list[ChannelSpec] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    enabled: bool = True

    @field_validator("filters", mode="before")
    @classmethod
    def _lists(cls, v: Any) -> Any:
        return filter_lists(v)

    @model_validator(mode="after")
    def _check(self) -> SloIn:
        if self.sli == "latency" and self.latency_threshold_ms is None:
            raise ValueError("a latency SLI needs latency_threshold_ms")
        if self.sli == "custom" and not self.metric:
            raise ValueError("metric: a custom SLI names a custom metric")
        if self.sli != "custom" and self.metric is not None:
            raise ValueError('metric: only a custom SLI ("sli": "custom") names a metric')
        w = parse_duration(self.window, "window")
        if not timedelta(hours=1) <= w <= timedelta(days=90):
            raise ValueError("window: between 1h and 90d")
        for a in self.burn_alerts:
            if parse_duration(a.short, "short") >= parse_duration(a.long, "long"):
                raise ValueError("burn_alerts: short must be shorter than long")
        check_filters(self.filters)
        return self


class SloRepo(SpecRepo[SloIn]):
    """SLOs, whose custom SLI must be a proportion metric of their project when written."""

    def create(self, engine: sa.Engine, spec: SloIn, now: datetime) -> Record[SloIn]:
        ratio_of(engine, spec)
        return super().create(engine, spec, now)

    def update(
        self, engine: sa.Engine, oid: str, spec: SloIn, now: datetime, project: str | None = None
    ) -> Record[SloIn]:
        ratio_of(engine, spec)
        return super().update(engine, oid, spec, now, project)


repo = SloRepo(slos, SloIn, "slo", "SLO")


def ratio_of(engine: sa.Engine, slo: SloIn) -> Proportion | None:
    """A custom SLI's good and valid terms (None for the built-in SLIs); a 422 naming the field
    when its metric is not a proportion metric of the SLO's project."""
    return resolve(engine, slo.project, slo.metric) if slo.sli == "custom" else None


def _counts(
    store: Store, slo: SloIn, start: datetime, end: datetime, ratio: Proportion | None = None
) -> tuple[int, int]:
    """(valid events, bad events) in [start, end): calls, or a custom SLI's events."""
    scope = Scope(start, end, slo.scope_filters())
    if slo.sli == "custom":
        rows = store.term_aggregate(scope, _need(slo, ratio).terms)
        return _need(slo, ratio).counts(rows[0].values if rows else {})
    if slo.sli == "success_rate":
        row = store.aggregate(scope, [CATALOG["requests"], CATALOG["errors"]])[0]
        return int(row["requests"] or 0), int(row["errors"] or 0)
    # The catalog has no "calls under a bound" count (its conditions are fixed names), so the
    # latency SLI counts the raw latencies of the range. Correct, but it reads every value:
    # a parametric catalog condition would make this one aggregate.
    values = store.values(scope, "latency_ms")
    bound = float(slo.latency_threshold_ms or 0)
    return len(values), int(np.count_nonzero(values > bound))


def using_metric(engine: sa.Engine, project: str, name: str) -> list[str]:
    """The names of the project's SLOs whose custom SLI is this custom metric."""
    return [
        r.spec.name
        for r in repo.list(engine, project)
        if r.spec.sli == "custom" and r.spec.metric == name
    ]


def _need(slo: SloIn, ratio: Proportion | None) -> Proportion:
    if ratio is None:
        raise ValueError(f"SLO {slo.name}: its custom SLI's metric was not resolved")
    return ratio


def burn_rate(total: int, bad: int, objective: float) -> float | None:
    return None if total == 0 else (bad / total) / (1 - objective)


def slo_status(
    store: Store, slo: SloIn, now: datetime, ratio: Proportion | None = None
) -> dict[str, Any]:
    """Error budget and burn rates at `now`; `ratio`: a custom SLI's terms (`ratio_of`)."""
    window = parse_duration(slo.window)
    total, bad = _counts(store, slo, now - window, now, ratio)
    allowed = (1 - slo.objective) * total
    windows = sorted({parse_duration(w) for a in slo.burn_alerts for w in (a.long, a.short)})
    rates = {}
    counts = {}
    for w in windows:
        n, b = _counts(store, slo, now - w, now, ratio)
        counts[w] = (n, b)
        rates[format_duration(w)] = burn_rate(n, b, slo.objective)
    alerts = []
    for a in slo.burn_alerts:
        lw, sw = parse_duration(a.long), parse_duration(a.short)
        lr, sr = rates[format_duration(lw)], rates[format_duration(sw)]
        firing = (
            lr is not None
            and sr is not None
            and lr >= a.burn_rate
            and sr >= a.burn_rate
            and counts[lw][0] >= slo.min_requests
        )
        alerts.append({**a.model_dump(), "long_rate": lr, "short_rate": sr, "firing": firing})
    return {
        "sli": None if total == 0 else 1 - bad / total,
        "objective": slo.objective,
        "window": slo.window,
        "requests": total,
        "bad": bad,
        "error_budget": allowed,
        "error_budget_remaining": None if total == 0 else 1 - bad / allowed,
        "burn_rate": burn_rate(total, bad, slo.objective),
        "burn_rates": rates,
        "burn_alerts": alerts,
        "evaluated_at": now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    }


def unresolved_status(slo: SloIn, now: datetime, why: str) -> dict[str, Any]:
    """The status of a custom SLO whose metric no longer resolves (its stored formula stopped
    parsing): no figures and the reason, so that listing the others still works."""
    return {
        "sli": None,
        "objective": slo.objective,
        "window": slo.window,
        "requests": 0,
        "bad": 0,
        "error_budget": 0.0,
        "error_budget_remaining": None,
        "burn_rate": None,
        "burn_rates": {},
        "burn_alerts": [],
        "evaluated_at": now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "error": why,
    }


def slo_history(
    store: Store,
    slo: SloIn,
    start: datetime,
    end: datetime,
    interval: str,
    ratio: Proportion | None = None,
) -> list[dict[str, Any]]:
    """Per bucket: calls, bad calls, SLI, burn rate, and the error budget left at the bucket's
    end over the rolling window before it."""
    window = parse_duration(slo.window)
    first = start - window
    buckets = bucket_starts(first, end, interval)
    by_t = _bucket_counts(store, slo, first, end, buckets, interval, ratio)
    out = []
    run_total = run_bad = 0
    tail = 0
    for i, b in enumerate(buckets):
        n, bad = by_t.get(b, (0, 0))
        run_total += n
        run_bad += bad
        b_end = buckets[i + 1] if i + 1 < len(buckets) else end
        while buckets[tail] < b_end - window:  # drop buckets that left the rolling window
            tn, tb = by_t.get(buckets[tail], (0, 0))
            run_total -= tn
            run_bad -= tb
            tail += 1
        if b < start:
            continue
        allowed = (1 - slo.objective) * run_total
        out.append(
            {
                "t": b.isoformat().replace("+00:00", "Z"),
                "requests": n,
                "bad": bad,
                "sli": None if n == 0 else 1 - bad / n,
                "burn_rate": burn_rate(n, bad, slo.objective),
                "error_budget_remaining": None if run_total == 0 else 1 - run_bad / allowed,
            }
        )
    return out


def _bucket_counts(
    store: Store,
    slo: SloIn,
    first: datetime,
    end: datetime,
    buckets: list[datetime],
    interval: str,
    ratio: Proportion | None,
) -> dict[datetime, tuple[int, int]]:
    """(valid, bad) per bucket start: one grouped query, but a latency SLI reads per bucket."""
    scope = Scope(first, end, slo.scope_filters())
    if slo.sli == "custom":
        p = _need(slo, ratio)
        rows = store.term_aggregate(scope, p.terms, interval=interval)
        return {r.t: p.counts(r.values) for r in rows if r.t is not None}
    if slo.sli == "success_rate":
        rows = store.aggregate(scope, [CATALOG["requests"], CATALOG["errors"]], interval=interval)
        return {
            r.t: (int(r["requests"] or 0), int(r["errors"] or 0)) for r in rows if r.t is not None
        }
    return {
        b: _counts(store, slo, max(b, first), buckets[i + 1] if i + 1 < len(buckets) else end)
        for i, b in enumerate(buckets)
    }


def evaluate(
    engine: sa.Engine, store: Store, now: datetime, project: str | None = None
) -> tuple[list[tuple[Subject, Verdict]], list[str]]:
    out: list[tuple[Subject, Verdict]] = []
    ids = []
    for rec in repo.list(engine, project):
        if not rec.spec.enabled:
            continue
        ids.append(rec.id)
        with isolated("slo", rec.id):  # one broken SLO never stops the others
            out.extend(judge(store, rec, now, ratio_of(engine, rec.spec)))
    return out, ids


def judge(
    store: Store, rec: Record[SloIn], now: datetime, ratio: Proportion | None = None
) -> list[tuple[Subject, Verdict]]:
    """One SLO's verdicts at `now`: one per burn alert (live rounds and backtests)."""
    slo = rec.spec
    status = slo_status(store, slo, now, ratio)
    out = []
    for a in status["burn_alerts"]:
        lr, sr = a["long_rate"], a["short_rate"]
        reason = (
            f"{slo.name}: error budget burning {_x(lr)} over {a['long']} and "
            f"{_x(sr)} over {a['short']} (alert at {fmt.number(a['burn_rate'])}x)"
        )
        baseline = {"short_rate": sr, "error_budget_remaining": status["error_budget_remaining"]}
        verdict = Verdict(a["firing"], lr, a["burn_rate"], status["requests"], reason, baseline)
        out.append((_subject(rec, a), verdict))
    return out


def _x(v: float | None) -> str:
    return "n/a" if v is None else f"{fmt.number(v)}x"


def _subject(rec: Record[SloIn], a: dict[str, Any]) -> Subject:
    slo = rec.spec
    key = f"burn {a['long']}/{a['short']}"
    return Subject(
        source="slo",
        source_id=rec.id,
        scope_key=key,
        name=f"{slo.name}: burn rate {a['burn_rate']:g}x over {a['long']}/{a['short']}",
        severity=a["severity"],
        alert_type="slo_burn",
        metric=f"slo.{slo.sli}",
        for_=timedelta(0),
        renotify=timedelta(hours=4),
        project=slo.project,
        scope={
            "filters": slo.filters,
            "slo": slo.name,
            "windows": key,
            **({"metric": slo.metric} if slo.metric else {}),
        },
        channels=tuple(slo.channels),
        labels=tuple(sorted(slo.labels.items())),
    )


def slo_source() -> SpecSource:
    """SLOs as an alert source: whoever builds the AlertService registers one."""
    return SpecSource("slo", evaluate, repo)
