"""Typed rows a store answers with: metric values per (time bucket, group), and peaks per minute.

A row is addressed by metric name (`row["requests"]`); its bucket is `t` (UTC, aware) and its
group values are `group`, in the order of the `group_by` the caller asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass
class AggRow:
    """Catalog metric values of one group (and time bucket, for a series)."""

    values: dict[str, Any]
    group: tuple[Any, ...] = ()
    t: datetime | None = None
    approximate: bool = False  # some value came from a rollup sketch (within 1 %)

    def __getitem__(self, metric: str) -> Any:
        return self.values[metric]

    def get(self, metric: str, default: Any = None) -> Any:
        return self.values.get(metric, default)

    @property
    def key(self) -> Any:
        """The value of the one dimension grouped by (None when not grouped)."""
        return self.group[0] if self.group else None


@dataclass(frozen=True)
class PeakRow:
    """The most calls in one UTC-aligned minute, per group (and time bucket)."""

    peak: int
    group: tuple[Any, ...] = ()
    t: datetime | None = None

    @property
    def key(self) -> Any:
        return self.group[0] if self.group else None


@dataclass(frozen=True)
class UserActivityRow:
    """Active users of one UTC bucket (a day, or an ISO week starting on Monday).

    `active`: distinct users with a call in the bucket; `new_users`: those whose first call is
    in it. `dau`, `wau`, `mau`: distinct users over the 1, 7 and 30 days ending with the
    bucket's last day (for a day bucket, the day itself)."""

    t: datetime
    active: int
    new_users: int
    dau: int
    wau: int
    mau: int


@dataclass(frozen=True)
class RetentionRow:
    """One first-seen cohort: `users` first seen on UTC day `cohort`, and per day k how many of
    them had a call on day cohort + k (None: that day is not over before the range ends)."""

    cohort: datetime
    users: int
    retained: dict[int, int | None]


@dataclass(frozen=True)
class VersionStart:
    """The first stored call of a (project, prompt_id, prompt_version) that matches the filters:
    a change marker computed from the calls, never stored. `prompt_id` may be None."""

    first: datetime
    project: str
    prompt_id: str | None
    prompt_version: str
