"""Alert reasons and notification texts read by the one rule of `model.fmt`: a figure in its
catalog unit, never `1.144e+04` or a rate as a fraction."""

from __future__ import annotations

import json
import re
from dataclasses import replace

from promptpulse.alerts.evaluate import Observation, judge
from promptpulse.alerts.rules import RuleIn
from promptpulse.notify.message import email_message, slack_payload
from tests.notify.test_channels import NOTE

EXPONENT = re.compile(r"\d[eE][+-]\d")


def _rule(**kw: object) -> RuleIn:
    return RuleIn.model_validate({"name": "r", **kw})


def test_alert_reasons_use_the_metric_unit() -> None:
    r = _rule(metric="error_rate", operator=">", threshold=0.05, min_requests=20)
    assert judge(r, Observation(0.3123, 100)).reason == "error_rate 31.2% > 5.0%"
    slow = _rule(metric="latency_p95_ms", operator=">", threshold=2000, min_requests=1)
    assert judge(slow, Observation(11444.303499999998, 10)).reason == "latency_p95_ms 11.4 s > 2 s"
    up = _rule(metric="cost_usd", operator="increase", threshold=0.5, min_requests=0)
    assert (
        judge(up, Observation(16_743.2, 10, (10_000.0,))).reason
        == "cost_usd $16,743.20, up 67.4% on last_week ($10,000.00)"
    )
    spike = _rule(metric="requests", operator="anomaly", min_ratio=2.0, min_requests=0)
    text = judge(spike, Observation(16_700, 16_700, (1000, 1050, 980, 1020))).reason
    assert not EXPONENT.search(text) and "16.7k" in text, text


def test_notifications_show_values_in_their_unit() -> None:
    n = replace(NOTE, metric="latency_p95_ms", value=11444.303499999998, threshold=2000.0)
    mail = email_message(n, "pp@example.com", ["a@example.com"])
    body = mail.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "11.4 s" in text and "2 s" in text and "11444" not in text
    slack = json.dumps(slack_payload(replace(NOTE, value=0.3123, threshold=0.05)))
    assert "31.2%" in slack and "5.0%" in slack and not EXPONENT.search(slack)
