"""Notification channels, shared by alerts and reports: webhook (JSON, optionally HMAC-signed),
Slack, PagerDuty (Events API v2) and email (SMTP). Channel specs and their secrets, what each
channel is sent, one send attempt, and the retry loop. Knows nothing of alerts or reports: they
import from here (this module is the door), never the other way round."""

from promptpulse.notify.channel import MASK, SECRET_FIELDS, ChannelSpec, keep_secrets
from promptpulse.notify.message import (
    PRIORITY,
    Notification,
    email_message,
    pagerduty_payload,
    slack_payload,
    webhook_payload,
)
from promptpulse.notify.send import (
    ALERTS_AGENT,
    PAGERDUTY_URL,
    Attempt,
    PermanentFailure,
    SendResult,
    attempts,
    post_json,
    send,
    send_email,
    smtp_send,
)

__all__ = [
    "ALERTS_AGENT",
    "MASK",
    "PAGERDUTY_URL",
    "PRIORITY",
    "SECRET_FIELDS",
    "Attempt",
    "ChannelSpec",
    "Notification",
    "PermanentFailure",
    "SendResult",
    "attempts",
    "email_message",
    "keep_secrets",
    "pagerduty_payload",
    "post_json",
    "send",
    "send_email",
    "slack_payload",
    "smtp_send",
    "webhook_payload",
]
