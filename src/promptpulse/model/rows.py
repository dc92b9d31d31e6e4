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
