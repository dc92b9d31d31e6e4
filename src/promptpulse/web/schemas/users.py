"""Answers of /v1/users (activity, retention, top users, one user)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from promptpulse.web.schemas.common import Number, Out
from promptpulse.web.schemas.metrics import Timeseries


class ActivityPoint(Out):
    t: str = Field(description="The UTC day (or ISO week's Monday) the point is for")
    active: int = Field(description="Distinct users with a call in the bucket")
    new_users: int = Field(description="Users whose first call (matching the filters) is in it")
    returning_users: int = Field(description="active - new_users")
    dau: int = Field(description="Distinct users on the bucket's last day in range")
    wau: int = Field(description="Distinct users in the 7 days ending with that day")
    mau: int = Field(description="Distinct users in the 30 days ending with that day")


class Activity(Out):
    from_: str = Field(alias="from")
    to: str
    interval: str
    points: list[ActivityPoint]


class RetentionDay(Out):
    day: int
    users: int | None = Field(description="Cohort users with a call on day cohort + day")
    rate: Number | None = Field(description="users / cohort size; null while the day is not over")


class Cohort(Out):
    cohort: str = Field(description="The UTC day its users were first seen (YYYY-MM-DD)")
    users: int
    days: list[RetentionDay]


class Retention(Out):
    from_: str = Field(alias="from")
    to: str
    days: list[int]
    cohorts: list[Cohort]


class TopUsers(Out):
    sort: str
    order: str
    rows: list[dict[str, Any]]


class UserDetail(Out):
    user_id: str
    first_seen: str = Field(description="Their first stored call matching the filters, ever")
    last_seen: str = Field(description="Their last stored call matching the filters, ever")
    from_: str = Field(alias="from")
    to: str
    kpis: dict[str, Number | None]
    series: Timeseries
    prompts: list[dict[str, Any]]
    models: list[dict[str, Any]]
