"""The CLI's alert and experiment cells read by the one rule of `model.fmt`."""

from __future__ import annotations

from promptpulse.cli.alerts import _threshold, _value
from promptpulse.cli.experiments import _interval


def test_alert_cells_in_the_metric_unit() -> None:
    assert _value(11444.303499999998, "latency_p95_ms") == "11.4 s"
    assert _value(0.3123, "error_rate") == "31.2%"
    assert _value(None, "error_rate") == ""
    assert _value(1.67e4, "score.helpful") == "16.7k"
    assert _threshold("increase", 0.5, "cost_usd") == "50.0%"
    assert _threshold(">", 30.0356, "cost_usd") == "$30.04"


def test_experiment_interval_in_the_metric_unit() -> None:
    c = {"metric": "success_rate", "ci_low": -0.0123, "ci_high": 0.0456, "ci_level": 0.95}
    assert _interval(c) == "-1.2 pts … +4.6 pts"
    wide = {"metric": "cost_per_request_usd", "ci_low": -0.0004, "ci_high": 0.0123456,
            "ci_level": 0.9833333}  # fmt: skip
    assert _interval(wide) == "-$0.0004 … +$0.0123 (98.3%)"
