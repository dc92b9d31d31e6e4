"""Channels: where a notification goes (webhook, Slack, PagerDuty, email), and their secrets.

Secret fields are write-only: the API shows them masked, and a client that sends a masked value
back keeps the stored one (`keep_secrets`). Pure: no network here.
"""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from promptpulse.model import CHANNEL_SECRET_FIELDS

SECRET_FIELDS = CHANNEL_SECRET_FIELDS
MASK = "********"
# RFC 9110 token characters for a header name; a value may not hold CR, LF or NUL.
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,100}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ChannelSpec(BaseModel):
    """Where a notification goes. Secret fields are write-only: the API shows them masked."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["webhook", "slack", "pagerduty", "email"]
    url: str | None = Field(None, description="webhook, slack; pagerduty: override the endpoint")
    to: list[str] | None = Field(None, description="email: recipients")
    routing_key: str | None = Field(None, description="pagerduty: Events API v2 routing key")
    secret: str | None = Field(None, description="webhook: HMAC-SHA256 signing secret")
    headers: dict[str, str] | None = Field(None, description="webhook: extra HTTP headers")

    @field_validator("to", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @model_validator(mode="after")
    def _needs(self) -> ChannelSpec:
        if self.type in ("webhook", "slack") and not self.url:
            raise ValueError(f"a {self.type} channel needs url")
        if self.url and self.url != MASK and not re.match(r"^https?://", self.url):
            raise ValueError("url must start with http:// or https://")
        if self.url and (_CONTROL.search(self.url) or " " in self.url):
            raise ValueError("url: must not hold spaces or control characters (CR, LF, NUL)")
        for name, value in (self.headers or {}).items():
            if not _HEADER_NAME.match(name):
                raise ValueError(f"headers: '{name[:100]}' is not an HTTP header name")
            if _CONTROL.search(value.replace("\t", "")):
                raise ValueError(f"headers.{name}: must not hold control characters (CR, LF, NUL)")
        if self.type == "pagerduty" and not self.routing_key:
            raise ValueError("a pagerduty channel needs routing_key")
        if self.type == "email":
            if not self.to:
                raise ValueError("an email channel needs to: [addresses]")
            bad = [a for a in self.to if not re.match(r"^[^@\s]+@[^@\s]+$", a)]
            if bad:
                raise ValueError(f"not an email address: {', '.join(bad)}")
        return self

    def masked(self) -> dict[str, Any]:
        """What the API shows: the type and the non-secret fields; secrets as a mask."""
        out: dict[str, Any] = {"type": self.type}
        if self.to:
            out["to"] = self.to
        for name in SECRET_FIELDS:
            value = getattr(self, name, None)
            if value:
                out[name] = _mask(name, value)
        return out

    def target(self) -> str:
        """A label for the delivery log that gives no secret away."""
        if self.type == "email":
            return ", ".join(self.to or [])
        if self.url:
            return origin(self.url) + "/…"
        return "pagerduty"


def origin(url: str) -> str:
    """scheme://host[:port] of a URL: no user, password, path, query or fragment."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return ""
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}" if parts.scheme and host else ""


_URL = re.compile(r"https?://[^\s\"'<>]+")


def redact(text: str) -> str:
    """A message fit for a log line or `last_error`: every URL cut to its origin (credentials,
    paths and query tokens gone), control characters shown escaped (no forged log lines)."""
    cut = _URL.sub(lambda m: (origin(m.group(0)) or "<url>") + "/…", text)
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", cut)


def _mask(name: str, value: Any) -> Any:
    if name == "url":
        shown = origin(str(value))
        return f"{shown}/{MASK}" if shown else MASK
    if name == "headers":
        return {k: MASK for k in value}
    return MASK


def keep_secrets(new: list[ChannelSpec], old: list[ChannelSpec]) -> list[ChannelSpec]:
    """A client that read a rule and sends it back sends masks; keep the stored secrets."""
    out = []
    for i, ch in enumerate(new):
        prev = old[i] if i < len(old) and old[i].type == ch.type else None
        fields = ch.model_dump()
        for name in SECRET_FIELDS:
            value = fields.get(name)
            if prev is not None and value is not None and _is_mask(value):
                fields[name] = getattr(prev, name)
            elif value is not None and _is_mask(value):
                raise ValueError(f"channels[{i}].{name}: send the secret, not its mask")
        out.append(ChannelSpec.model_validate(fields))
    return out


def _is_mask(value: Any) -> bool:
    if isinstance(value, dict):
        return any(v == MASK for v in value.values())
    return isinstance(value, str) and value.endswith(MASK)
