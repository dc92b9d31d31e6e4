"""Alerting: rules (threshold, change, seasonal anomaly), the alert state machine, silences,
the evaluator task, and deliveries (through `promptpulse.notify`) with their log."""

from promptpulse.alerts.rules import TEMPLATES, RuleIn, parse_duration
from promptpulse.alerts.service import AlertService

__all__ = ["TEMPLATES", "AlertService", "RuleIn", "parse_duration"]
