"""Alerting: rules (threshold, change, seasonal anomaly), the alert state machine, silences,
the evaluator task, and deliveries (through `promptpulse.notify`) with their log. Budgets and
SLOs raise alerts as registered sources (`AlertSource`, `AlertService.register_source`)."""

from promptpulse.alerts.backtest import Range, backtest_rule, check_range, load, simulate
from promptpulse.alerts.evaluate import Verdict
from promptpulse.alerts.incident_views import incident_stats
from promptpulse.alerts.replay import ReplayError, ReplayStore
from promptpulse.alerts.rules import TEMPLATES, RuleIn, parse_duration
from promptpulse.alerts.service import AlertService
from promptpulse.alerts.sources import AlertSource, SourceRound, SpecSource, isolated
from promptpulse.alerts.state import Subject

__all__ = [
    "TEMPLATES",
    "AlertService",
    "AlertSource",
    "Range",
    "ReplayError",
    "ReplayStore",
    "RuleIn",
    "SourceRound",
    "SpecSource",
    "Subject",
    "Verdict",
    "backtest_rule",
    "check_range",
    "incident_stats",
    "isolated",
    "load",
    "parse_duration",
    "simulate",
]
