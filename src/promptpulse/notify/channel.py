"""Channels: where a notification goes (webhook, Slack, PagerDuty, email), and their secrets.

Secret fields are write-only: the API shows them masked, and a client that sends a masked value
back keeps the stored one (`keep_secrets`). Pure: no network here.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SECRET_FIELDS = ("url", "routing_key", "secret", "headers", "smtp_password")
MASK = "********"


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
            m = re.match(r"^(https?://[^/]+)", self.url)
            return (m.group(1) if m else "") + "/…"
        return "pagerduty"


def _mask(name: str, value: Any) -> Any:
    if name == "url":
        m = re.match(r"^(https?://[^/]+)", str(value))
        return f"{m.group(1)}/{MASK}" if m else MASK
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
