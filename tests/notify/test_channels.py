"""Each channel against a real receiver: the webhook JSON and its signature, Slack Block Kit,
PagerDuty Events API v2, email over a real SMTP server (aiosmtpd); what is retried and what is
not; secrets masked and kept."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TypeVar

import httpx
import pytest

from promptpulse.notify import (
    Attempt,
    ChannelSpec,
    Notification,
    PermanentFailure,
    SendResult,
    attempts,
    keep_secrets,
    send,
    webhook_payload,
)
from tests.notify.conftest import Mailbox, Receiver

T = TypeVar("T")
NOTE = Notification(
    event="firing",
    alert_id="alert_0123456789abcdef",
    alert_type="threshold",
    severity="critical",
    name="support: errors",
    source="rule",
    source_id="rule_0123456789abcdef",
    project="shop",
    metric="error_rate",
    value=0.31,
    threshold=0.05,
    reason="error_rate 0.31 > 0.05",
    timestamp="2026-03-02T10:04:00Z",
    scope={"filters": {"prompt_id": ["support"]}},
    labels={"team": "support"},
    links={"alert": "https://pp.example.com/v1/alerts/alert_0123456789abcdef"},
)


def _send(channel: ChannelSpec, n: Notification = NOTE, smtp_url: str | None = None) -> SendResult:
    async def go() -> SendResult:
        async with httpx.AsyncClient(timeout=10) as http:
            return await send(channel, n, http, smtp_url, "promptpulse@example.com")

    return asyncio.run(go())


def _attempts(call: Callable[[], Awaitable[T]], max_attempts: int) -> list[Attempt[T]]:
    async def go() -> list[Attempt[T]]:
        return [a async for a in attempts(call, max_attempts, base_s=0.01)]

    return asyncio.run(go())


def test_webhook_is_our_json_signed_over_its_exact_body(receiver: Receiver) -> None:
    channel = ChannelSpec(
        type="webhook", url=receiver.url + "/hook", secret="s3cret", headers={"X-Team": "a"}
    )
    assert _send(channel).status == 200
    got = receiver.wait_for(1)[0]
    assert got.path == "/hook" and got.body == webhook_payload(NOTE)
    assert got.body["priority"] == "P1" and got.body["prompt_id"] == "support"
    want = hmac.new(b"s3cret", got.raw, hashlib.sha256).hexdigest()
    assert got.headers["X-PromptPulse-Signature"] == f"sha256={want}"
    assert got.headers["X-Team"] == "a" and got.headers["User-Agent"] == "PromptPulse-Alerts/1"


def test_slack_is_a_block_kit_message(receiver: Receiver) -> None:
    _send(ChannelSpec(type="slack", url=receiver.url + "/slack"))
    slack = receiver.wait_for(1)[0].body
    assert isinstance(slack["text"], str) and slack["text"].startswith("[FIRING] [P1 critical]")
    assert [b["type"] for b in slack["blocks"]] == ["header", "section", "context"]
    assert slack["blocks"][0]["text"]["type"] == "plain_text"
    assert len(slack["blocks"][0]["text"]["text"]) <= 150
    assert all(f["type"] == "mrkdwn" for f in slack["blocks"][1]["fields"])
    assert "X-PromptPulse-Signature" not in receiver.items[0].headers


def test_pagerduty_trigger_then_resolve_with_the_same_dedup_key(receiver: Receiver) -> None:
    channel = ChannelSpec(
        type="pagerduty", routing_key="R0UT1NGKEY0123456789012345678901", url=receiver.url
    )
    _send(channel)
    _send(channel, replace(NOTE, event="resolved"))
    trigger, resolve = (g.body for g in receiver.wait_for(2))
    assert trigger["event_action"] == "trigger" and trigger["routing_key"].startswith("R0UT")
    assert trigger["dedup_key"] == "promptpulse/alert_0123456789abcdef"
    p = trigger["payload"]
    assert {"summary", "source", "severity"} <= set(p) and p["severity"] == "critical"
    assert len(p["summary"]) <= 1024 and p["timestamp"].endswith("Z")
    assert trigger["client_url"] == NOTE.links["alert"]
    assert all({"href", "text"} <= set(x) for x in trigger["links"])
    assert resolve == {
        "routing_key": trigger["routing_key"],
        "event_action": "resolve",
        "dedup_key": trigger["dedup_key"],
    }


def test_email_is_multipart_over_smtp(smtp: Mailbox) -> None:
    before = len(smtp.messages)
    channel = ChannelSpec(type="email", to=["oncall@example.com", "lead@example.com"])
    assert _send(channel, smtp_url=f"smtp://127.0.0.1:{smtp.port}").status == 250
    mail = smtp.wait_for(before + 1)[-1]
    assert mail["Subject"] == "[FIRING] [P1 critical] support: errors"
    assert mail["To"] == "oncall@example.com, lead@example.com"
    assert mail["From"] == "promptpulse@example.com"
    kinds = sorted(part.get_content_type() for part in mail.walk() if not part.is_multipart())
    assert kinds == ["text/html", "text/plain"]
    with pytest.raises(PermanentFailure, match="PROMPTPULSE_SMTP_URL"):
        _send(channel, smtp_url=None)


def test_5xx_is_retried_4xx_is_not(receiver: Receiver) -> None:
    channel = ChannelSpec(type="webhook", url=receiver.url)

    async def once() -> SendResult:
        async with httpx.AsyncClient(timeout=10) as http:
            return await send(channel, NOTE, http, None, "x@example.com")

    receiver.fail_next = 2  # 503, 503, then 200
    tries = _attempts(once, 5)
    assert [a.status for a in tries] == ["pending", "pending", "sent"]
    assert tries[0].error is not None and "HTTP 503" in tries[0].error
    assert tries[-1].result == SendResult(200) and tries[-1].error is None
    receiver.fail_next = 3  # more 503s than tries: the last one fails
    assert [a.status for a in _attempts(once, 2)] == ["pending", "failed"]
    receiver.fail_next = 0
    receiver.status = 404  # a 4xx other than 408/429: one try, no retry
    tries = _attempts(once, 5)
    assert [(a.number, a.status) for a in tries] == [(1, "failed")]
    assert tries[0].error is not None and tries[0].error.startswith("HTTP 404")


def test_secrets_are_masked_and_kept() -> None:
    ch = ChannelSpec(type="slack", url="https://hooks.slack.com/services/T/B/SECRET")
    shown = ch.masked()
    assert "SECRET" not in str(shown) and shown["url"].startswith("https://hooks.slack.com/")
    back = keep_secrets([ChannelSpec.model_validate(shown)], [ch])
    assert back[0].url == ch.url
    with pytest.raises(ValueError, match="not its mask"):
        keep_secrets([ChannelSpec.model_validate(shown)], [])


def test_channel_specs_say_what_they_need() -> None:
    for bad, why in (
        ({"type": "slack"}, "needs url"),
        ({"type": "pagerduty"}, "routing_key"),
        ({"type": "email", "to": "not-an-address"}, "not an email address"),
        ({"type": "webhook", "url": "ftp://x"}, "http:// or https://"),
    ):
        with pytest.raises(ValueError, match=why):
            ChannelSpec.model_validate(bad)
    one = ChannelSpec.model_validate({"type": "email", "to": "a@example.com"})
    assert one.to == ["a@example.com"] and one.target() == "a@example.com"
