"""Sending: one attempt per channel type (HTTP for webhook, Slack and PagerDuty; SMTP for
email), which failures a retry cannot help, and the retry loop with exponential backoff that
alert deliveries and reports share. Backoff runs on the wall clock (it is about the network)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import smtplib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Generic, TypeVar
from urllib.parse import unquote, urlsplit

import httpx
import orjson

from promptpulse.notify.channel import ChannelSpec, redact
from promptpulse.notify.message import (
    Notification,
    email_message,
    pagerduty_payload,
    slack_payload,
    webhook_payload,
)

PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
ALERTS_AGENT = "PromptPulse-Alerts/1"
T = TypeVar("T")


class PermanentFailure(Exception):
    """Retrying will not help (a 4xx other than 408/429, a bad address)."""


@dataclass(frozen=True)
class SendResult:
    status: int | None


async def send(
    channel: ChannelSpec,
    n: Notification,
    http: httpx.AsyncClient,
    smtp_url: str | None,
    smtp_from: str,
) -> SendResult:
    """One attempt. Raises on failure; PermanentFailure when a retry cannot help."""
    if channel.type == "email":
        await send_email(smtp_url, email_message(n, smtp_from, channel.to or []))
        return SendResult(250)
    if channel.type == "webhook":
        body = orjson.dumps(webhook_payload(n))
        return await post_json(
            http, channel.url or "", body, ALERTS_AGENT, channel.secret, channel.headers
        )
    if channel.type == "slack":
        body = orjson.dumps(slack_payload(n))
        return await post_json(http, channel.url or "", body, ALERTS_AGENT)
    body = orjson.dumps(pagerduty_payload(n, channel.routing_key or ""))
    return await post_json(http, channel.url or PAGERDUTY_URL, body, ALERTS_AGENT)


async def post_json(
    http: httpx.AsyncClient,
    url: str,
    body: bytes,
    user_agent: str,
    secret: str | None = None,
    headers: dict[str, str] | None = None,
) -> SendResult:
    """POST a JSON body; with `secret`, signed in `X-PromptPulse-Signature: sha256=<hex HMAC>`;
    `headers` are added last. A 4xx other than 408/429 is a PermanentFailure."""
    sent = {"Content-Type": "application/json", "User-Agent": user_agent}
    if secret:
        sig = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        sent["X-PromptPulse-Signature"] = f"sha256={sig}"
    sent.update(headers or {})
    response = await http.post(url, content=body, headers=sent)
    if response.is_success:
        return SendResult(response.status_code)
    message = f"HTTP {response.status_code}: {redact(response.text[:200])}"
    if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
        raise PermanentFailure(message)
    raise RuntimeError(message)


async def send_email(smtp_url: str | None, msg: EmailMessage) -> None:
    """Send by SMTP in a worker thread; no server configured is a PermanentFailure."""
    if not smtp_url:
        raise PermanentFailure("no SMTP server configured (PROMPTPULSE_SMTP_URL)")
    await asyncio.to_thread(smtp_send, smtp_url, msg)


def smtp_send(url: str, msg: EmailMessage) -> None:
    """smtp://[user:pass@]host[:port], smtps:// (TLS), smtp+starttls://."""
    u = urlsplit(url)
    host = u.hostname or "localhost"
    if u.scheme == "smtps":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            host, u.port or 465, timeout=30, context=ssl.create_default_context()
        )
    else:
        client = smtplib.SMTP(host, u.port or 25, timeout=30)
    with client:
        if u.scheme == "smtp+starttls":
            client.starttls(context=ssl.create_default_context())
        if u.username:
            client.login(unquote(u.username), unquote(u.password or ""))
        try:
            client.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentFailure(f"recipients refused: {exc.recipients}") from exc


@dataclass(frozen=True)
class Attempt(Generic[T]):
    """One try's outcome: `sent` (with what the call returned), `failed` (the last one), or
    `pending` (it failed; another try follows after the backoff)."""

    number: int
    status: str
    result: T | None = None
    error: str | None = None


async def attempts(
    call: Callable[[], Awaitable[T]],
    max_attempts: int,
    base_s: float,
    max_backoff_s: float | None = None,
    error_chars: int = 1000,
) -> AsyncIterator[Attempt[T]]:
    """Await `call` until it succeeds, up to `max_attempts` times, sleeping base_s, 2 x base_s,
    ... (at most `max_backoff_s`) in between; yields every attempt's outcome before the sleep.
    A PermanentFailure is not retried; other exceptions (network, 5xx, 429) are."""
    for number in range(1, max_attempts + 1):
        try:
            outcome: Attempt[T] = Attempt(number, "sent", await call())
        except PermanentFailure as exc:
            outcome = Attempt(number, "failed", error=redact(str(exc)))
        except Exception as exc:
            error = redact(f"{type(exc).__name__}: {exc}")[:error_chars]
            outcome = Attempt(
                number, "failed" if number == max_attempts else "pending", None, error
            )
        yield outcome
        if outcome.status != "pending":
            return
        backoff = base_s * 2 ** (number - 1)
        await asyncio.sleep(backoff if max_backoff_s is None else min(backoff, max_backoff_s))
