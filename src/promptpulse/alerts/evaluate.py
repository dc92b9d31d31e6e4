"""Judging a rule: values in, a verdict out. Pure; the service fetches the values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from promptpulse.alerts import anomaly
from promptpulse.alerts.rules import TRAFFIC_METRICS, RuleIn
from promptpulse.model import CATALOG, fmt


@dataclass(frozen=True)
class Observation:
    """What the query layer saw for one rule and scope."""

    value: float | None
    requests: int
    past: tuple[float | None, ...] = ()  # baseline values: previous window, or weeks ago


@dataclass(frozen=True)
class Verdict:
    breached: bool
    value: float | None
    threshold: float | None  # what the value was compared with (anomalies: the band edge)
    requests: int
    reason: str  # why, in words, for the history and notifications
    baseline: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "breached": self.breached,
            "value": self.value,
            "threshold": self.threshold,
            "requests": self.requests,
            "reason": self.reason,
            "baseline": self.baseline or None,
        }


_COMPARE = {
    ">": lambda v, t: v > t,
    ">=": lambda v, t: v >= t,
    "<": lambda v, t: v < t,
    "<=": lambda v, t: v <= t,
}


def judge(rule: RuleIn, obs: Observation) -> Verdict:
    """Whether the rule's condition holds for this observation."""
    metric = rule.metric or ""
    if metric not in TRAFFIC_METRICS and obs.requests < rule.min_requests:
        return Verdict(
            False,
            obs.value,
            rule.threshold,
            obs.requests,
            f"{obs.requests} calls, below min_requests {rule.min_requests}",
        )
    value = obs.value
    if value is None:
        return Verdict(False, None, rule.threshold, obs.requests, "no value")
    op = rule.operator
    if op in _COMPARE:
        assert rule.threshold is not None
        hit = _COMPARE[op](value, rule.threshold)
        return Verdict(
            hit,
            value,
            rule.threshold,
            obs.requests,
            f"{metric} {_fmt(value, metric)} {op} {_fmt(rule.threshold, metric)}"
            if hit
            else f"{metric} {_fmt(value, metric)} within {op} {_fmt(rule.threshold, metric)}",
        )
    if op in ("increase", "decrease"):
        return _relative(rule, obs, value)
    return _anomaly(rule, obs, value)


def _relative(rule: RuleIn, obs: Observation, value: float) -> Verdict:
    assert rule.threshold is not None
    metric = rule.metric or ""
    before = obs.past[0] if obs.past else None
    if before is None or before == 0:
        return Verdict(False, value, None, obs.requests, f"no {rule.baseline} value to compare")
    change = value / before - 1
    if rule.operator == "increase":
        limit = before * (1 + rule.threshold)
        hit = change > rule.threshold
    else:
        limit = before * (1 - rule.threshold)
        hit = -change > rule.threshold
    word = "up" if change >= 0 else "down"
    return Verdict(
        hit,
        value,
        limit,
        obs.requests,
        f"{metric} {_fmt(value, metric)}, {word} {fmt.pct(abs(change))} "
        f"on {rule.baseline} ({_fmt(before, metric)})",
        {"kind": rule.baseline, "value": before, "change": change},
    )


def _anomaly(rule: RuleIn, obs: Observation, value: float) -> Verdict:
    metric = rule.metric or ""
    base = anomaly.baseline(obs.past, metric)
    if base is None:
        return Verdict(False, value, None, obs.requests, "not enough history for a baseline")
    direction = rule.effective_direction
    band = anomaly.bounds(base, rule.z, direction, rule.min_ratio)
    hit = anomaly.is_anomalous(value, base, rule.z, direction, rule.min_ratio)
    if value >= base.median:
        threshold = band.get("upper", band.get("lower"))
    else:
        threshold = band.get("lower", band.get("upper"))
    ratio = value / base.median if base.median else None
    how = f"{fmt.number(ratio)}x usual" if ratio is not None else "usual is 0"
    return Verdict(
        hit,
        value,
        threshold,
        obs.requests,
        f"{metric} {_fmt(value, metric)}, {how} "
        f"({_fmt(base.median, metric)} ± {_fmt(base.sigma, metric)})",
        {"kind": "seasonal", **base.as_dict(), **band},
    )


def _fmt(x: float, metric: str) -> str:
    """A value in its metric's catalog unit, by the one rule of `model.fmt`."""
    m = CATALOG.get(metric)
    return fmt.value(x, m.unit if m is not None else None)
