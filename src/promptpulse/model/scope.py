"""What a query reads: a half-open UTC range, filters, dimensions, an interval and a sort.

Pure values, shared by every floor: the query layer parses HTTP parameters into them, each store
backend compiles them into its own dialect.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

COLUMN_DIMENSIONS: tuple[str, ...] = (
    "project", "prompt_id", "prompt_version", "model", "provider", "environment",
    "feature", "user_id", "session_id", "service", "status", "error_type",
)  # fmt: skip
FILTERS: tuple[str, ...] = (*COLUMN_DIMENSIONS, "tag")
INTERVALS: dict[str, timedelta | None] = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
    "month": None,  # calendar months differ in length
}
METADATA_PREFIX = "metadata."
# Backends inline metadata keys into JSON paths, so the characters are restricted here, once.
METADATA_KEY = re.compile(r"^[A-Za-z0-9_\-.:/ ]{1,100}$")


def is_dimension(name: str) -> bool:
    """A column of the call record, or `metadata.<key>` with a well-formed key."""
    if name.startswith(METADATA_PREFIX):
        return bool(METADATA_KEY.match(name[len(METADATA_PREFIX) :]))
    return name in COLUMN_DIMENSIONS


@dataclass(frozen=True)
class Dimension:
    """A column of the call record, or `metadata.<key>`."""

    name: str

    def __post_init__(self) -> None:
        if not is_dimension(self.name):
            raise ValueError(f"not a dimension: {self.name!r}")

    @property
    def metadata_key(self) -> str | None:
        return self.name[len(METADATA_PREFIX) :] if self.is_metadata else None

    @property
    def is_metadata(self) -> bool:
        return self.name.startswith(METADATA_PREFIX)


@dataclass(frozen=True)
class Filter:
    dimension: str  # a column dimension, "tag" or "metadata.<key>"
    values: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.dimension != "tag" and not is_dimension(self.dimension):
            raise ValueError(f"not a filter: {self.dimension!r}")


@dataclass(frozen=True)
class Scope:
    """Range and filters: which calls a query reads."""

    start: datetime  # inclusive, UTC
    end: datetime  # exclusive, UTC
    filters: tuple[Filter, ...] = ()

    @property
    def minutes(self) -> float:
        return (self.end - self.start).total_seconds() / 60

    def previous(self) -> Scope:
        """The period of the same length just before this one."""
        length = self.end - self.start
        return Scope(self.start - length, self.start, self.filters)

    def with_filter(self, dimension: str, values: Iterable[str]) -> Scope:
        kept = tuple(f for f in self.filters if f.dimension != dimension)
        return Scope(self.start, self.end, (*kept, Filter(dimension, tuple(values))))

    def filter_values(self, dimension: str) -> tuple[str, ...] | None:
        for f in self.filters:
            if f.dimension == dimension:
                return f.values
        return None


@dataclass(frozen=True)
class Sort:
    metric: str
    descending: bool = True
