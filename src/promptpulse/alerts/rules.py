"""Alert rules: the JSON/YAML shape, its validation, durations and templates.

A rule is plain data. `RuleIn` is what users send (API, CLI, YAML); `Rule` adds the server's id
and times. Everything here is pure: no database, no store.
"""

from __future__ import annotations

import functools
import re
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from promptpulse.alerts.escalation import EscalationStep, check_policy
from promptpulse.model import CATALOG, FILTERS, METADATA_PREFIX, Filter, Kind, is_dimension
from promptpulse.model.formula import NAME_RULE
from promptpulse.notify import PRIORITY, ChannelSpec

Operator = Literal[">", ">=", "<", "<=", "increase", "decrease", "anomaly"]
THRESHOLD_OPERATORS = (">", ">=", "<", "<=")
Severity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[str, ...] = ("info", "warning", "critical")
_PRIORITY_IN = {"P0": "critical", "P1": "critical", "P2": "warning", "P3": "info"}
SENSITIVITY = {"low": 6.0, "medium": 4.0, "high": 3.0}  # robust z (MAD-sigmas) that trips
SCORE_PREFIX = "score."
# Metrics that are themselves traffic counts: min_requests does not apply to them.
TRAFFIC_METRICS = frozenset({"requests", "rpm"})
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


MAX_DURATION = timedelta(days=400)  # longer than any window, baseline or renotify interval


@functools.lru_cache(maxsize=4096)  # pure; a round reads each rule's durations several times
def parse_duration(text: str | int | float, name: str = "duration") -> timedelta:
    """'30s', '5m', '1h', '3d', '1w' (or a number of seconds) -> timedelta."""
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        m = _DURATION.match(str(text))
        if not m:
            raise ValueError(f"{name}: '{text}' is not a duration such as 30s, 5m, 1h, 3d or 1w")
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if seconds < 0:
        raise ValueError(f"{name}: must not be negative")
    if not seconds <= MAX_DURATION.total_seconds():  # '9999999999w' would overflow timedelta
        raise ValueError(f"{name}: at most {MAX_DURATION.days} days")
    return timedelta(seconds=seconds)


def format_duration(d: timedelta) -> str:
    s = int(d.total_seconds())
    for unit in ("w", "d", "h", "m"):
        if s and s % _UNITS[unit] == 0:
            return f"{s // _UNITS[unit]}{unit}"
    return f"{s}s"


def metric_supported(name: str) -> str | None:
    """None when a rule may watch this metric, else why not."""
    if name.startswith(SCORE_PREFIX):
        return None if len(name) > len(SCORE_PREFIX) else "name the score: score.<name>"
    m = CATALOG.get(name)
    if m is None and NAME_RULE.fullmatch(name):
        return None  # a custom metric: the rule's project must have it (alerts.repo checks)
    if m is None:
        return f"unknown metric '{name}'; see /v1/metrics/catalog, or score.<name>"
    if m.kind is Kind.PEAK_MINUTE:
        return f"'{name}' cannot be alerted on; use rpm"
    return None


def check_filters(filters: dict[str, list[str]]) -> None:
    for dim, values in filters.items():
        if dim not in FILTERS and not dim.startswith(METADATA_PREFIX):
            raise ValueError(f"filters: '{dim}' is not one of {', '.join(FILTERS)}, metadata.*")
        if dim != "tag" and not is_dimension(dim):
            raise ValueError(f"filters: bad metadata key '{dim}'")
        if not values:
            raise ValueError(f"filters.{dim}: give at least one value")


def filter_lists(v: Any) -> Any:
    """{"model": "a"} and {"model": ["a", "b"]} are both fine; values become strings."""
    if isinstance(v, dict):
        return {k: [str(x) for x in (x if isinstance(x, list) else [x])] for k, x in v.items()}
    return v


class ScopedSpec:
    """What rules, budgets and SLOs share: `filters` naming their scope and `channels` whose
    secrets the API never shows. A mixin for their pydantic models (which declare the fields)."""

    filters: Any
    channels: Any

    @property
    def project(self) -> str | None:
        values = self.filters.get("project")
        return values[0] if values and len(values) == 1 else None

    def scope_filters(self) -> tuple[Filter, ...]:
        return tuple(Filter(d, tuple(v)) for d, v in sorted(self.filters.items()))

    def public(self) -> dict[str, Any]:
        """The spec as the API shows it: channel secrets masked."""
        out = self.model_dump(by_alias=True, exclude={"channels"})  # type: ignore[attr-defined]
        out["channels"] = [c.masked() for c in self.channels]
        return out


class RuleIn(ScopedSpec, BaseModel):
    """A rule as users write it."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(..., min_length=1, max_length=200)
    template: str | None = Field(None, description="Fill unset fields from a built-in template")
    metric: str | None = Field(None, description="A catalog metric, or score.<name>")
    operator: Operator | None = None
    threshold: float | None = Field(None, allow_inf_nan=False)
    baseline: Literal["previous", "last_week"] = Field(
        "last_week", description="increase/decrease: compare with the window before, or a week ago"
    )
    sensitivity: float | Literal["low", "medium", "high"] = "medium"
    direction: Literal["up", "down", "both"] | None = Field(
        None, description="anomaly: which way counts (default from the metric)"
    )
    min_ratio: float | None = Field(
        None, gt=1, description="anomaly: also at least this factor away from the baseline"
    )
    baseline_weeks: int = Field(4, ge=1, le=12, description="anomaly: weeks of history to use")
    window: str = "5m"
    for_: str = Field("0s", alias="for")
    min_requests: int = Field(10, ge=0)
    severity: str = "warning"
    filters: dict[str, list[str]] = Field(default_factory=dict)
    group_by: str | None = Field(None, description="One alert per value of this dimension")
    channels: list[ChannelSpec] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    runbook_url: str | None = None
    renotify: str = Field("4h", description="Repeat a firing, unacknowledged alert; 0s: never")
    escalation: list[EscalationStep] = Field(
        default_factory=list,
        description="Notify more channels while this rule's incident is not acknowledged",
    )
    enabled: bool = True

    @field_validator("filters", mode="before")
    @classmethod
    def _filter_lists(cls, v: Any) -> Any:
        return filter_lists(v)

    @model_validator(mode="before")
    @classmethod
    def _apply_template(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("template"):
            tpl = TEMPLATES.get(str(data["template"]))
            if tpl is None:
                raise ValueError(
                    f"template: unknown '{data['template']}'; one of {', '.join(TEMPLATES)}"
                )
            merged = {k: v for k, v in tpl.items() if k != "description"}
            merged.update({k: v for k, v in data.items() if v is not None})
            return merged
        return data

    @model_validator(mode="after")
    def _check(self) -> RuleIn:
        if self.metric is None or self.operator is None:
            raise ValueError("metric and operator are required (or a template)")
        why = metric_supported(self.metric)
        if why:
            raise ValueError(f"metric: {why}")
        if self.operator == "anomaly":
            if isinstance(self.sensitivity, float | int) and not 0.5 <= self.sensitivity <= 20:
                raise ValueError("sensitivity: low, medium, high or a number from 0.5 to 20")
        elif self.threshold is None:
            raise ValueError(f"threshold is required with operator '{self.operator}'")
        elif self.operator in ("increase", "decrease") and self.threshold <= 0:
            raise ValueError("threshold: a fraction above 0 (0.5 = 50 %)")
        window = parse_duration(self.window, "window")
        if not timedelta(minutes=1) <= window <= timedelta(days=31):
            raise ValueError("window: between 1m and 31d")
        parse_duration(self.for_, "for")
        parse_duration(self.renotify, "renotify")
        sev = _PRIORITY_IN.get(self.severity.upper(), self.severity.lower())
        if sev not in SEVERITIES:
            raise ValueError("severity: info, warning, critical (or P0-P3)")
        self.severity = sev
        check_filters(self.filters)
        check_policy(self.escalation)
        if self.group_by is not None:
            if not is_dimension(self.group_by):
                raise ValueError(f"group_by: '{self.group_by}' is not a dimension")
            if self.metric.startswith(SCORE_PREFIX):
                raise ValueError("group_by is not available for score metrics")
        if self.runbook_url and not re.match(r"^https?://", self.runbook_url):
            raise ValueError("runbook_url must start with http:// or https://")
        return self

    # ---- derived values used by the evaluator ----
    @property
    def window_td(self) -> timedelta:
        return parse_duration(self.window)

    @property
    def for_td(self) -> timedelta:
        return parse_duration(self.for_)

    @property
    def renotify_td(self) -> timedelta:
        return parse_duration(self.renotify)

    @property
    def z(self) -> float:
        s = self.sensitivity
        return SENSITIVITY[s] if isinstance(s, str) else float(s)

    @property
    def effective_direction(self) -> str:
        if self.direction:
            return self.direction
        m = CATALOG.get(self.metric or "")
        if m is None or m.higher_is_better is None:
            return "up" if self.metric and self.metric.startswith("cost") else "both"
        return "down" if m.higher_is_better else "up"

    def public(self) -> dict[str, Any]:
        """The rule as the API shows it: secrets masked, `for` under its own name."""
        out = {**super().public(), "priority": PRIORITY[self.severity]}
        out["escalation"] = [
            {"after": s.after, "channels": [c.masked() for c in s.channels]}
            for s in self.escalation
        ]
        return out


# Built-in anomaly and threshold templates: the brief's defaults, with no threshold to guess.
TEMPLATES: dict[str, dict[str, Any]] = {
    "traffic_spike": {
        "description": "Calls more than 2x the usual for this hour of the week",
        "metric": "requests",
        "operator": "anomaly",
        "direction": "up",
        "min_ratio": 2.0,
        "window": "15m",
        "for": "5m",
        "severity": "warning",
    },
    "traffic_drop": {
        "description": "Calls less than half the usual for this hour of the week",
        "metric": "requests",
        "operator": "anomaly",
        "direction": "down",
        "min_ratio": 2.0,
        "window": "15m",
        "for": "10m",
        "severity": "critical",
    },
    "latency_spike": {
        "description": "p95 latency more than 2x its usual value for this hour of the week",
        "metric": "latency_p95_ms",
        "operator": "anomaly",
        "direction": "up",
        "min_ratio": 2.0,
        "window": "10m",
        "for": "3m",
        "severity": "warning",
        "min_requests": 20,
    },
    "error_rate_high": {
        "description": "More than 5 % of calls fail",
        "metric": "error_rate",
        "operator": ">",
        "threshold": 0.05,
        "window": "5m",
        "for": "2m",
        "severity": "critical",
        "min_requests": 20,
    },
    "cost_anomaly": {
        "description": "Spend more than 1.5x what this hour of the week usually costs",
        "metric": "cost_usd",
        "operator": "anomaly",
        "direction": "up",
        "min_ratio": 1.5,
        "window": "1h",
        "for": "15m",
        "severity": "warning",
    },
    "success_rate_low": {
        "description": "Fewer than 90 % of calls succeed",
        "metric": "success_rate",
        "operator": "<",
        "threshold": 0.90,
        "window": "5m",
        "for": "2m",
        "severity": "critical",
        "min_requests": 20,
    },
}
