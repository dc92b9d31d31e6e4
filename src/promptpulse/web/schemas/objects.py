"""Answers of the stored objects: budgets, SLOs, alert rules and report schedules.

Each is its input model's fields as stored (same names, types and descriptions, without the
input's validators), channels as shown (secrets masked), plus id, timestamps and what the route
adds (a budget's or an SLO's status, a rule's priority, a schedule's sending state)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, create_model

from promptpulse.alerts import RuleIn
from promptpulse.budgets import BudgetIn
from promptpulse.reports.schedules import ScheduleIn
from promptpulse.slos import SloIn
from promptpulse.web.schemas.common import Number, Out


class ChannelOut(Out):
    """A channel as the API shows it: its type and non-secret fields; secrets as a mask."""

    type: str
    to: list[str] | None = None
    url: str | None = Field(None, description="Masked past the host")
    routing_key: str | None = Field(None, description="Masked")
    secret: str | None = Field(None, description="Masked")
    headers: dict[str, str] | None = Field(None, description="Values masked")
    dir: str | None = Field(None, description="file channels (report schedules)")


class Stored(Out):
    id: str
    created_at: str = Field(description="RFC 3339 UTC")
    updated_at: str = Field(description="RFC 3339 UTC")


def shown(name: str, spec: type[BaseModel], base: type[Out] = Stored, **extra: Any) -> type[Out]:
    """`spec`'s fields as stored and shown, on `base`, with `extra` (name: (type, Field))."""
    fields: dict[str, Any] = {
        field: (info.annotation, Field(alias=info.alias, description=info.description))
        for field, info in spec.model_fields.items()
    }
    fields["channels"] = (list[ChannelOut], Field(description="Secrets masked"))
    fields |= extra
    return create_model(name, __base__=base, __doc__=spec.__doc__, **fields)


class BudgetStatus(Out):
    period_start: str
    period_end: str
    amount: Number
    spent: Number
    spent_ratio: Number
    remaining: Number
    projected: Number = Field(description="Projected total at the period's end")
    projected_low: Number = Field(description="95 % interval, low")
    projected_high: Number = Field(description="95 % interval, high")
    projected_ratio: Number
    run_rate_per_day: Number
    will_overrun: bool
    forecast_method: str
    daily: list[dict[str, Any]]


class SloStatus(Out):
    sli: Number | None = Field(description="Over the window; null without calls")
    objective: Number
    window: str
    requests: int
    bad: int
    error_budget: Number = Field(description="Bad calls allowed in the window")
    error_budget_remaining: Number | None = Field(description="Fraction left; negative: spent")
    burn_rate: Number | None
    burn_rates: dict[str, Number | None] = Field(description="Per alert window (e.g. 1h, 5m)")
    burn_alerts: list[dict[str, Any]] = Field(description="Each burn alert, its rates, firing")
    evaluated_at: str


class SloPoint(Out):
    t: str
    requests: int
    bad: int
    sli: Number | None
    burn_rate: Number | None
    error_budget_remaining: Number | None


class SloHistory(Out):
    id: str
    interval: str
    points: list[SloPoint]


BudgetOut = shown("BudgetOut", BudgetIn, status=(BudgetStatus, ...))
SloOut = shown("SloOut", SloIn, status=(SloStatus, ...))
RuleOut = shown("RuleOut", RuleIn, priority=(str, Field(description="P1-P3, from severity")))
ScheduleOut = shown(
    "ScheduleOut",
    ScheduleIn,
    last_period_end=(str | None, Field(description="End of the last period sent")),
    last_sent_at=(str | None, ...),
    last_result=(list[dict[str, Any]] | None, Field(description="Per channel: status, error")),
    next_send_at=(str | None, Field(description="Null when disabled")),
)


def listing(name: str, key: str, item: type[Out]) -> type[Out]:
    """`{key: [item, ...]}`."""
    fields: dict[str, Any] = {key: (list[item], ...)}  # type: ignore[valid-type]
    return create_model(name, __base__=Out, **fields)


BudgetList = listing("BudgetList", "budgets", BudgetOut)
SloList = listing("SloList", "slos", SloOut)
RuleList = listing("RuleList", "rules", RuleOut)
ScheduleList = listing("ScheduleList", "schedules", ScheduleOut)


class CheckedBudget(Out):
    id: str
    name: str
    metric: str
    amount: Number
    spent: Number = Field(description="Spent in the current period (memory: see refreshed_at)")
    projected: Number = Field(description="Projected end-of-period spend")
    period_start: str
    period_end: str
    over: bool = Field(description="spent >= amount")
    projected_over: bool = Field(description="projected > amount")
    refreshed_at: str = Field(description="When this budget was last read from the store")


class BudgetCheck(Out):
    """Whether a call may go ahead: every budget whose filters match it, from memory."""

    allowed: bool = Field(description="No matching budget is over (mode=projected: nor projected)")
    mode: str
    budgets: list[CheckedBudget]
    refreshed_at: str | None = Field(description="The last refresh from the store (null: none)")
