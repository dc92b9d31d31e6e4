"""The pure middle: rule validation, seasonal baselines, verdicts and the state machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from promptpulse.alerts import anomaly
from promptpulse.alerts.evaluate import Observation, judge
from promptpulse.alerts.rules import TEMPLATES, RuleIn, parse_duration
from promptpulse.alerts.state import OpenAlert, advance

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
ZERO = timedelta(0)


def rule(**kw: object) -> RuleIn:
    return RuleIn.model_validate({"name": "r", **kw})


def test_durations() -> None:
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("1w") == timedelta(weeks=1)
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("5 minutes")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        # (a well-formed name may be a custom metric: alerts.repo checks it against the project)
        ({"metric": "no such metric", "operator": ">", "threshold": 1}, "unknown metric"),
        ({"metric": "rpm_peak", "operator": ">", "threshold": 1}, "cannot be alerted"),
        ({"metric": "error_rate", "operator": ">"}, "threshold is required"),
        ({"metric": "error_rate", "operator": ">", "threshold": 1, "window": "10s"}, "between 1m"),
        ({"metric": "error_rate", "operator": ">", "threshold": 1, "severity": "P9"}, "severity"),
        (
            {"metric": "error_rate", "operator": ">", "threshold": 1, "filters": {"colour": "x"}},
            "not one of",
        ),
        ({"template": "nope"}, "unknown 'nope'"),
        ({"metric": "requests", "operator": "anomaly", "sensitivity": 50}, "sensitivity"),
    ],
)
def test_rule_validation_names_the_problem(body: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        rule(**body)


def test_templates_and_priorities() -> None:
    assert all(rule(template=name) for name in TEMPLATES)
    r = rule(template="latency_spike", window="20m", severity="P0")
    assert r.metric == "latency_p95_ms" and r.window == "20m" and r.severity == "critical"
    assert r.public()["priority"] == "P1" and r.public()["for"] == "3m"


def test_baseline_is_robust_to_one_bad_week() -> None:
    b = anomaly.baseline([100, 104, 98, 900], "latency_p95_ms")
    assert b is not None and b.median == 102 and b.sigma < 20
    assert anomaly.baseline([100, None, None], "requests") is None
    counts = anomaly.baseline([10, 10, 10, 10], "requests")
    assert counts is not None and counts.sigma == pytest.approx(10**0.5)  # Poisson floor


def test_anomaly_verdicts() -> None:
    r = rule(metric="latency_p95_ms", operator="anomaly", min_ratio=2.0, min_requests=5)
    past = (1000.0, 1050.0, 980.0, 1020.0)
    assert judge(r, Observation(2500, 50, past)).breached
    assert not judge(r, Observation(1300, 50, past)).breached  # odd but not 2x
    assert not judge(r, Observation(400, 50, past)).breached  # faster is not a latency alarm
    assert not judge(r, Observation(2500, 3, past)).breached  # too few calls
    drop = rule(metric="requests", operator="anomaly", direction="down", min_ratio=2)
    assert judge(drop, Observation(20, 20, (100, 95, 110, 105))).breached
    assert not judge(drop, Observation(80, 80, (100, 95, 110, 105))).breached


def test_threshold_and_change_verdicts() -> None:
    r = rule(metric="error_rate", operator=">", threshold=0.05, min_requests=20)
    assert judge(r, Observation(0.3, 100)).breached
    assert not judge(r, Observation(0.05, 100)).breached
    assert not judge(r, Observation(None, 0)).breached
    up = rule(metric="cost_usd", operator="increase", threshold=0.5, min_requests=0)
    v = judge(up, Observation(16, 10, (10.0,)))
    assert v.breached and v.threshold == 15
    assert not judge(up, Observation(14, 10, (10.0,))).breached
    assert not judge(up, Observation(14, 10, (None,))).breached


def open_alert(state: str, started: datetime, notified: datetime | None = None) -> OpenAlert:
    return OpenAlert("a", state, started, started if state != "pending" else None, notified)


def test_state_machine() -> None:
    hold, renotify = timedelta(minutes=2), timedelta(hours=1)
    assert advance(None, False, NOW, hold, renotify, False).state is None
    s = advance(None, True, NOW, hold, renotify, False)
    assert (s.state, s.notify) == ("pending", None)
    pending = open_alert("pending", NOW)
    assert advance(pending, True, NOW + timedelta(minutes=1), hold, renotify, False).event is None
    s = advance(pending, True, NOW + hold, hold, renotify, False)
    assert (s.state, s.notify) == ("firing", "firing")
    assert advance(pending, False, NOW + hold, hold, renotify, False).event == "cancelled"
    firing = open_alert("firing", NOW, NOW)
    assert advance(firing, True, NOW + timedelta(minutes=30), hold, renotify, False).notify is None
    assert advance(firing, True, NOW + renotify, hold, renotify, False).notify == "reminder"
    assert advance(firing, True, NOW + renotify, hold, renotify, True).notify is None  # silenced
    acked = open_alert("acknowledged", NOW, NOW)
    assert advance(acked, True, NOW + renotify, hold, renotify, False).notify is None
    s = advance(acked, False, NOW + renotify, hold, renotify, False)
    assert (s.state, s.notify) == ("resolved", "resolved")
    # Fired during a silence: nothing sent; when the silence ends it is sent once.
    s = advance(None, True, NOW, ZERO, renotify, True)
    assert (s.state, s.notify) == ("firing", None)
    quiet = open_alert("firing", NOW, None)
    assert advance(quiet, True, NOW, ZERO, renotify, False).notify == "firing"
    assert advance(quiet, False, NOW, ZERO, renotify, False).notify is None  # never told
