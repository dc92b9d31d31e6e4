"""Escalation policies: if an incident is not acknowledged within `after` of opening, notify the
next step's channels. Pure: the steps, their validation and which step is due.

A policy is written inline on a rule (`escalation: [{"after": "15m", "channels": [...]}, ...]`).
Its steps must come at strictly increasing times: a step at or before the one it follows would
fire together with it, and a policy that returns to an earlier time is a loop; both are refused
(422) so that a policy always ends.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator

from promptpulse.notify import ChannelSpec

MAX_STEPS = 10


class EscalationStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    after: str = Field(..., description="Time from the incident opening, e.g. 15m")
    channels: list[ChannelSpec] = Field(..., min_length=1)

    @field_validator("after")
    @classmethod
    def _after(cls, v: str) -> str:
        from promptpulse.alerts.rules import parse_duration

        if parse_duration(v, "after") <= timedelta(0):
            raise ValueError("after: must be longer than 0s")
        return v

    @property
    def after_td(self) -> timedelta:
        from promptpulse.alerts.rules import parse_duration

        return parse_duration(self.after, "after")


def check_policy(steps: list[EscalationStep]) -> None:
    """Raise ValueError naming the step whose `after` does not increase (a loop)."""
    if len(steps) > MAX_STEPS:
        raise ValueError(f"escalation: at most {MAX_STEPS} steps")
    for i in range(1, len(steps)):
        if steps[i].after_td <= steps[i - 1].after_td:
            raise ValueError(
                f"escalation[{i}].after: {steps[i].after} is not after "
                f"escalation[{i - 1}].after ({steps[i - 1].after}); each step must come later "
                "than the one before (a policy may not loop back)"
            )


def due_steps(
    steps: list[EscalationStep], done: int, opened_at: datetime, now: datetime
) -> list[int]:
    """The indices of the steps not sent yet whose time has come, in order."""
    return [i for i in range(done, len(steps)) if now - opened_at >= steps[i].after_td]
