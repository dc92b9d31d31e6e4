"""What a notification says, per channel (pure: no network here).

- webhook: our JSON (see docs/alerting.md, "Webhook payload"), optionally HMAC-signed.
- slack: an incoming-webhook message: `text` (the notification fallback) plus Block Kit
  `blocks` (header, section with mrkdwn fields, context).
- pagerduty: Events API v2 (`POST https://events.pagerduty.com/v2/enqueue`): `trigger` with
  routing_key, dedup_key and payload{summary ≤ 1024, source, severity, timestamp, component,
  group, class, custom_details}, links; `acknowledge` and `resolve` with the same dedup_key.
- email: multipart/alternative with a plain-text and an HTML part.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from promptpulse.model import CATALOG, fmt

PRIORITY = {"critical": "P1", "warning": "P2", "info": "P3"}
PD_SEVERITY = {"critical": "critical", "warning": "warning", "info": "info"}
EMOJI = {
    "critical": ":red_circle:",
    "warning": ":large_orange_circle:",
    "info": ":information_source:",
}


@dataclass(frozen=True)
class Notification:
    """One thing to tell people about one alert (or a test)."""

    event: str  # firing | reminder | acknowledged | resolved | test
    alert_id: str
    alert_type: str
    severity: str
    name: str
    source: str
    source_id: str
    project: str | None
    metric: str
    value: float | None
    threshold: float | None
    reason: str
    timestamp: str
    scope: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    baseline: dict[str, Any] | None = None
    started_at: str | None = None
    fired_at: str | None = None
    resolved_at: str | None = None
    acknowledged_by: str | None = None
    note: str | None = None
    links: dict[str, str] = field(default_factory=dict)
    # changes shortly before the alert started that concern its scope (promptpulse.markers)
    likely_causes: tuple[dict[str, Any], ...] = ()

    @property
    def prompt_id(self) -> str | None:
        for where in (self.scope.get("group") or {}, self.scope.get("filters") or {}):
            v = where.get("prompt_id")
            if v:
                return v if isinstance(v, str) else ",".join(v)
        return None

    @property
    def title(self) -> str:
        word = {
            "firing": "FIRING",
            "reminder": "STILL FIRING",
            "escalated": "ESCALATED",
            "resolved": "RESOLVED",
            "acknowledged": "ACKNOWLEDGED",
            "test": "TEST",
        }[self.event]
        return f"[{word}] [{PRIORITY.get(self.severity, '')} {self.severity}] {self.name}"


def webhook_payload(n: Notification) -> dict[str, Any]:
    return {
        "version": 1,
        "event": n.event,
        "status": "resolved" if n.event == "resolved" else n.event,
        "alert_id": n.alert_id,
        "alert_type": n.alert_type,
        "severity": n.severity,
        "priority": PRIORITY.get(n.severity),
        "name": n.name,
        "source": n.source,
        "rule_id": n.source_id,
        "project": n.project,
        "prompt_id": n.prompt_id,
        "metric": n.metric,
        "value": n.value,
        "threshold": n.threshold,
        "baseline": n.baseline,
        "reason": n.reason,
        "scope": n.scope,
        "labels": n.labels,
        "timestamp": n.timestamp,
        "started_at": n.started_at,
        "fired_at": n.fired_at,
        "resolved_at": n.resolved_at,
        "acknowledged_by": n.acknowledged_by,
        "note": n.note,
        "links": n.links,
        "likely_causes": list(n.likely_causes),
    }


def cause_line(c: dict[str, Any]) -> str:
    """One likely cause in words: when, what kind, its title."""
    return f"{c.get('time', '')} {c.get('kind', '')}: {c.get('title', '')}"


def _num(v: float | None, metric: str = "") -> str:
    """A value in its metric's catalog unit, by the one rule of `model.fmt`."""
    m = CATALOG.get(metric)
    return fmt.value(v, m.unit if m is not None else None)


def slack_payload(n: Notification) -> dict[str, Any]:
    fallback = f"{n.title}: {n.reason}"
    fields = [
        {"type": "mrkdwn", "text": f"*Metric*\n{_slack_escape(n.metric)}"},
        {"type": "mrkdwn", "text": f"*Value*\n{_num(n.value, n.metric)}"},
        {"type": "mrkdwn", "text": f"*Threshold*\n{_num(n.threshold, n.metric)}"},
        {"type": "mrkdwn", "text": f"*Severity*\n{n.severity} ({PRIORITY.get(n.severity)})"},
    ]
    if n.project:
        fields.append({"type": "mrkdwn", "text": f"*Project*\n{_slack_escape(n.project)}"})
    if n.prompt_id:
        fields.append({"type": "mrkdwn", "text": f"*Prompt*\n{_slack_escape(n.prompt_id)}"})
    links = " · ".join(f"<{url}|{name}>" for name, url in n.links.items())
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": n.title[:150], "emoji": True}},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f"{EMOJI.get(n.severity, '')} {_slack_escape(n.reason)}"[:3000],
            },
            "fields": fields[:10],
        },
    ]
    if n.likely_causes:
        lines = "\n".join(f"• {_slack_escape(cause_line(c))}" for c in n.likely_causes)
        text = f"*Likely causes (changes just before)*\n{lines}"[:3000]
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    context = [{"type": "mrkdwn", "text": f"PromptPulse · {n.alert_type} · {n.timestamp}"}]
    if links:
        context.append({"type": "mrkdwn", "text": links[:3000]})
    blocks.append({"type": "context", "elements": context})
    return {"text": fallback[:3000], "blocks": blocks}


def _slack_escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def pagerduty_payload(n: Notification, routing_key: str) -> dict[str, Any]:
    dedup = f"promptpulse/{n.alert_id}"
    if n.event in ("resolved", "acknowledged"):
        action = "resolve" if n.event == "resolved" else "acknowledge"
        return {"routing_key": routing_key, "event_action": action, "dedup_key": dedup}
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup,
        "payload": {
            "summary": f"{n.name}: {n.reason}"[:1024],
            "source": f"promptpulse/{n.project or 'all'}",
            "severity": PD_SEVERITY.get(n.severity, "warning"),
            "timestamp": n.timestamp,
            "component": n.prompt_id or n.metric,
            "group": n.project or "promptpulse",
            "class": n.alert_type,
            "custom_details": {
                "metric": n.metric,
                "value": n.value,
                "threshold": n.threshold,
                "baseline": n.baseline,
                "scope": n.scope,
                "labels": n.labels,
                "event": n.event,
                "rule_id": n.source_id,
                "likely_causes": list(n.likely_causes),
            },
        },
        "client": "PromptPulse",
    }
    if n.links.get("alert"):
        body["client_url"] = n.links["alert"]
    body["links"] = [{"href": url, "text": name} for name, url in n.links.items()]
    return body


def email_message(n: Notification, sender: str, to: list[str]) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = n.title
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    rows = [
        ("Reason", n.reason),
        ("Metric", n.metric),
        ("Value", _num(n.value, n.metric)),
        ("Threshold", _num(n.threshold, n.metric)),
        ("Severity", f"{n.severity} ({PRIORITY.get(n.severity)})"),
        ("Project", n.project or "all"),
        ("Prompt", n.prompt_id or "—"),
        ("Started", n.started_at or "—"),
        ("Time", n.timestamp),
        *(("Likely cause", cause_line(c)) for c in n.likely_causes),
    ]
    text = "\n".join(
        [
            n.title,
            "",
            *(f"{k}: {v}" for k, v in rows),
            "",
            *(f"{k}: {v}" for k, v in n.links.items()),
        ]
    )
    cells = "".join(
        f"<tr><th align='left'>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in rows
    )
    links = "".join(
        f"<li><a href='{html.escape(url)}'>{html.escape(name)}</a></li>"
        for name, url in n.links.items()
    )
    body = (
        f"<html><body><h2>{html.escape(n.title)}</h2><table>{cells}</table>"
        f"<ul>{links}</ul><p>Sent by PromptPulse.</p></body></html>"
    )
    msg.set_content(text)
    msg.add_alternative(body, subtype="html")
    return msg
