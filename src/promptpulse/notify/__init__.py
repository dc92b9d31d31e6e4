"""Notification channels, shared by alerts and reports: webhook (JSON, optionally HMAC-signed),
Slack, PagerDuty (Events API v2) and email (SMTP). Channel specs and their secrets, what each
channel is sent, one send attempt, and the retry loop. Knows nothing of alerts or reports: they
import from here (this module is the door), never the other way round."""

from promptpulse.notify.channel import MASK, ChannelSpec, keep_secrets
from promptpulse.notify.guard import Allowed, outgoing_client
from promptpulse.notify.message import PRIORITY, Notification, webhook_payload
from promptpulse.notify.send import (
    Attempt,
    PermanentFailure,
    SendResult,
    attempts,
    post_json,
    send,
    send_email,
)

__all__ = [
    "MASK",
    "PRIORITY",
    "Allowed",
    "Attempt",
    "ChannelSpec",
    "Notification",
    "PermanentFailure",
    "SendResult",
    "attempts",
    "keep_secrets",
    "outgoing_client",
    "post_json",
    "send",
    "send_email",
    "webhook_payload",
]
