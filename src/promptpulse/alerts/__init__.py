"""Alerting: rules (threshold, change, seasonal anomaly), the alert state machine, silences,
channels (webhook, Slack, PagerDuty, email) with retries, and the evaluator task."""

from promptpulse.alerts.rules import TEMPLATES, ChannelSpec, RuleIn, parse_duration
from promptpulse.alerts.service import AlertService

__all__ = ["TEMPLATES", "AlertService", "ChannelSpec", "RuleIn", "parse_duration"]
