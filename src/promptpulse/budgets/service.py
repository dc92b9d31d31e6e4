"""Budgets: model, status (spend to date and projection) and the alerts they raise."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from promptpulse.alerts import SpecSource, isolated
from promptpulse.alerts.evaluate import Verdict
from promptpulse.alerts.rules import ScopedSpec, check_filters, filter_lists
from promptpulse.alerts.specs import Record, SpecRepo
from promptpulse.alerts.state import Subject
from promptpulse.meta import budgets
from promptpulse.model import CATALOG, MAX_CUSTOM_PERIOD, fmt, utc_within
from promptpulse.notify import ChannelSpec
from promptpulse.query.forecast import period_bounds, project_period
from promptpulse.store import Store


class BudgetIn(ScopedSpec, BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=200)
    amount: float = Field(..., gt=0, allow_inf_nan=False, description="USD (or the metric's unit)")
    metric: str = Field("cost_usd", description="An additive metric: cost_usd, tokens, requests")
    period: Literal["month", "week", "day", "custom"] = "month"
    starts_at: datetime | None = Field(None, description="custom period start (RFC 3339)")
    ends_at: datetime | None = Field(None, description="custom period end, exclusive")
    filters: dict[str, list[str]] = Field(default_factory=dict)
    thresholds: list[float] = Field(default_factory=lambda: [0.5, 0.8, 1.0])
    alert_on_forecast: bool = Field(True, description="Alert when the projection overruns")
    channels: list[ChannelSpec] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    enabled: bool = True

    @field_validator("filters", mode="before")
    @classmethod
    def _lists(cls, v: Any) -> Any:
        return filter_lists(v)

    @model_validator(mode="after")
    def _check(self) -> BudgetIn:
        m = CATALOG.get(self.metric)
        if m is None or not m.additive:
            names = ", ".join(x.name for x in CATALOG.values() if x.additive)
            raise ValueError(f"metric: must be an additive metric: {names}")
        if self.period == "custom":
            if self.starts_at is None or self.ends_at is None:
                raise ValueError("a custom period needs starts_at and ends_at")
            if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
                raise ValueError("starts_at and ends_at need a time-zone offset")
            self.starts_at = utc_within(self.starts_at, "starts_at")
            self.ends_at = utc_within(self.ends_at, "ends_at")
            if self.ends_at <= self.starts_at:
                raise ValueError("ends_at must be after starts_at")
            if self.ends_at - self.starts_at > MAX_CUSTOM_PERIOD:
                raise ValueError(
                    f"ends_at: a custom period spans at most {MAX_CUSTOM_PERIOD.days} days"
                )
        if not self.thresholds or any(not 0 < x <= 10 for x in self.thresholds):
            raise ValueError("thresholds: fractions of the amount, such as 0.5, 0.8, 1.0")
        self.thresholds = sorted(set(self.thresholds))
        check_filters(self.filters)
        return self

    def bounds(self, now: datetime) -> tuple[datetime, datetime]:
        if self.period == "custom":
            assert self.starts_at is not None and self.ends_at is not None
            return self.starts_at, self.ends_at
        return period_bounds(self.period, now)


repo: SpecRepo[BudgetIn] = SpecRepo(budgets, BudgetIn, "bdg", "budget")


def budget_status(store: Store, b: BudgetIn, now: datetime) -> dict[str, Any]:
    start, end = b.bounds(now)
    f = project_period(store, b.scope_filters(), CATALOG[b.metric], start, end, now)
    projected, low, high = float(f.projected), float(f.low), float(f.high)
    return {
        "period_start": f.period_start,
        "period_end": f.period_end,
        "amount": b.amount,
        "spent": float(f.to_date),
        "spent_ratio": float(f.to_date) / b.amount,
        "remaining": b.amount - float(f.to_date),
        "projected": projected,
        "projected_low": low,
        "projected_high": high,
        "projected_ratio": projected / b.amount,
        "run_rate_per_day": float(f.run_rate_per_day),
        "will_overrun": projected > b.amount,
        "forecast_method": f.method,
        "daily": f.daily,
    }


def evaluate(
    engine: sa.Engine, store: Store, now: datetime, project: str | None = None
) -> tuple[list[tuple[Subject, Verdict]], list[str]]:
    out: list[tuple[Subject, Verdict]] = []
    ids = []
    for rec in repo.list(engine, project):
        if not rec.spec.enabled:
            continue
        ids.append(rec.id)  # live even when it fails below: its open alerts stay as they are
        with isolated("budget", rec.id):
            out.extend(judge_budget(store, rec, now))
    return out, ids


def judge_budget(
    store: Store, rec: Record[BudgetIn], now: datetime
) -> list[tuple[Subject, Verdict]]:
    """One budget's verdicts: a threshold each, and the forecast."""
    out: list[tuple[Subject, Verdict]] = []
    b = rec.spec
    status = budget_status(store, b, now)
    spent, ratio = status["spent"], status["spent_ratio"]
    unit = CATALOG[b.metric].unit if b.metric in CATALOG else None
    for th in b.thresholds:
        hit = ratio >= th
        severity = "critical" if th >= 1 else "warning" if th >= 0.8 else "info"
        reason = (
            f"{b.name}: {fmt.pct(ratio)} of {fmt.value(b.amount, unit)} spent "
            f"({fmt.value(spent, unit)})"
            if hit
            else f"{b.name}: {fmt.pct(ratio)} spent, under {fmt.pct(th)}"
        )
        out.append(
            (
                _subject(rec, f"spent>={th:.0%}", severity, "budget", f"{b.name}: {th:.0%} spent"),
                Verdict(hit, spent, th * b.amount, 0, reason, {"amount": b.amount}),
            )
        )
    if b.alert_on_forecast:
        proj = status["projected"]
        hit = proj > b.amount and spent < b.amount
        reason = (
            f"{b.name}: projected {fmt.value(proj, unit)} by {status['period_end']} "
            f"({fmt.pct(proj / b.amount)} of {fmt.value(b.amount, unit)}; 95 % interval "
            f"{fmt.value(status['projected_low'], unit)}–"
            f"{fmt.value(status['projected_high'], unit)})"
        )
        out.append(
            (
                _subject(
                    rec,
                    "forecast",
                    "warning",
                    "budget_forecast",
                    f"{b.name}: projected to overrun",
                ),
                Verdict(
                    hit,
                    proj,
                    b.amount,
                    0,
                    reason,
                    {"low": status["projected_low"], "high": status["projected_high"]},
                ),
            )
        )
    return out


def _subject(rec: Record[BudgetIn], key: str, severity: str, kind: str, name: str) -> Subject:
    b = rec.spec
    return Subject(
        source="budget",
        source_id=rec.id,
        scope_key=key,
        name=name,
        severity=severity,
        alert_type=kind,
        metric=b.metric,
        for_=timedelta(0),
        renotify=timedelta(0),
        project=b.project,
        scope={"filters": b.filters, "budget": b.name, "threshold": key},
        channels=tuple(b.channels),
        labels=tuple(sorted(b.labels.items())),
    )


def budget_source() -> SpecSource:
    """Budgets as an alert source: whoever builds the AlertService registers one."""
    return SpecSource("budget", evaluate, repo)
