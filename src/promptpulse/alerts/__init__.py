"""Alerting: rules (threshold, change, seasonal anomaly), the alert state machine, silences,
the evaluator task, and deliveries (through `promptpulse.notify`) with their log. Budgets and
SLOs raise alerts as registered sources (`AlertSource`, `AlertService.register_source`)."""

from promptpulse.alerts.evaluate import Verdict
from promptpulse.alerts.rules import TEMPLATES, RuleIn, parse_duration
from promptpulse.alerts.service import AlertService
from promptpulse.alerts.sources import AlertSource, SourceRound, SpecSource, isolated
from promptpulse.alerts.state import Subject

__all__ = [
    "TEMPLATES",
    "AlertService",
    "AlertSource",
    "RuleIn",
    "SourceRound",
    "SpecSource",
    "Subject",
    "Verdict",
    "isolated",
    "parse_duration",
]
