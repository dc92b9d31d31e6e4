"""The event store's protocol: everything a feature may ask of calls and scores, whatever the
engine. A backend is a package behind it (`duck/`: DuckDB embedded) that owns all of its SQL."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from promptpulse.model import (
    AggRow,
    Dimension,
    Metric,
    PeakRow,
    RetentionRow,
    Scope,
    Term,
    UserActivityRow,
    VersionStart,
)

Record = dict[str, Any]


class StoreWriter(Protocol):
    """What the single writer thread uses; from begin to commit is one transaction."""

    def begin(self) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def key_hashes(self, events: pa.Table) -> np.ndarray: ...
    def existing_keys(self, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]: ...
    def insert_events(self, events: pa.Table) -> set[tuple[str, str]]:
        """Stage the calls; returns the (project, id) keys it found already stored by another
        process (a replica) and did not stage: duplicates, not accepted calls."""
        ...

    def insert_scores(self, scores: pa.Table) -> int: ...


class Store(Protocol):
    # What rollups keep: the dimensions they filter by, the columns of an exported rollup row.
    rollup_dimensions: tuple[str, ...]
    rollup_columns: tuple[str, ...]

    # --- writing
    def writer(self) -> StoreWriter: ...
    def all_key_hashes(self) -> np.ndarray: ...

    # --- aggregates (typed rows; percentiles exact unless a row says approximate)
    def aggregate(
        self,
        scope: Scope,
        metrics: Sequence[Metric],
        group_by: Sequence[Dimension] = (),
        interval: str | None = None,
        allow_approximate: bool = False,
    ) -> list[AggRow]: ...
    def aggregate_by_hour_of_week(
        self, scope: Scope, metrics: Sequence[Metric], tz: str = "UTC"
    ) -> list[AggRow]: ...
    def histogram(self, scope: Scope, column: str, width: float, bins: int) -> list[int]: ...
    def peak_per_minute(
        self, scope: Scope, group_by: Sequence[Dimension] = (), interval: str | None = None
    ) -> list[PeakRow]: ...
    def score_summary(self, scope: Scope) -> dict[str, dict[str, float | int]]: ...
    # custom metrics' terms (model.formula.Term): summed per group, from raw calls
    def term_aggregate(
        self,
        scope: Scope,
        terms: Sequence[Term],
        group_by: Sequence[Dimension] = (),
        interval: str | None = None,
    ) -> list[AggRow]: ...
    def cohort_aggregate(
        self,
        scope: Scope,
        since: datetime,
        metrics: Sequence[Metric],
        group_by: Sequence[Dimension] = (),
    ) -> list[AggRow]: ...

    # --- users: a user is (project, user_id); definitions in store/users.py
    def user_activity(self, scope: Scope, interval: str = "day") -> list[UserActivityRow]: ...
    def user_retention(
        self, scope: Scope, days: Sequence[int] = (1, 7, 30)
    ) -> list[RetentionRow]: ...

    # --- raw calls (callers bound the scope)
    # change markers: the first stored call of each prompt version, if it is in the range
    def version_starts(self, scope: Scope) -> list[VersionStart]: ...
    def calls(
        self, scope: Scope, columns: Sequence[str], limit: int, newest_first: bool = True
    ) -> list[Record]: ...
    def values(self, scope: Scope, column: str, where_not_null: bool = True) -> np.ndarray: ...
    def columns(self, scope: Scope, columns: Sequence[str]) -> dict[str, np.ndarray]: ...
    def call_table(self, scope: Scope, columns: Sequence[str]) -> pa.Table:
        """Any fields (strings, times) of every call in scope, oldest first, as Arrow: for
        replays that judge windows in memory (backtests). Callers count and bound the scope."""
        ...

    def term_columns(self, scope: Scope, terms: Sequence[Term]) -> dict[str, np.ndarray]: ...
    def cohort_columns(
        self, scope: Scope, since: datetime, new: bool, columns: Sequence[str]
    ) -> dict[str, np.ndarray]: ...
    def row_counts(self) -> dict[str, int]: ...

    # --- lifecycle: rollups, retention, erasure, exports
    def raw_incomplete(self, scope: Scope) -> bool: ...
    def compact_rollups(self, now: datetime, grace: timedelta) -> dict[str, int]: ...
    def rebuild_rollups(
        self, start: datetime, end: datetime, project: str | None = None
    ) -> dict[str, int]: ...
    def rollup_stats(self) -> dict[str, Any]: ...
    # Repricing: set cost_usd and price_ref of the calls in `changes` (a table of project, id,
    # cost_usd, price_ref) and rebuild the rollups of `days` ((project, UTC midnight)) from
    # them; a crash leaves the old costs or the new ones (docs/prices.md says how per engine).
    def apply_costs(self, changes: pa.Table, days: Sequence[tuple[str, datetime]]) -> int: ...
    # Rollups that outlived their raw calls, carried to another store (`promptpulse migrate`):
    # per project its raw horizon and the rollup rows of buckets starting before it, as
    # (rollup table, rows) in an engine-neutral shape (store/duck/carry.py); and, on the
    # receiving side, those rows replacing its own there, the horizons recorded.
    def old_rollups(self) -> tuple[dict[str, datetime], Iterator[tuple[str, pa.Table]]]: ...
    def restore_old_rollups(
        self, horizons: Mapping[str, datetime], rows: Iterable[tuple[str, pa.Table]]
    ) -> int: ...
    def apply_retention(
        self,
        data_class: str,
        before: datetime,
        project: str | None = None,
        keep_projects: Sequence[str] = (),
    ) -> int: ...
    def erase(self, project: str, user_id: str | None = None) -> dict[str, int]: ...
    def export_batches(
        self,
        source: str,
        columns: Sequence[str],
        scope: Scope,
        time_column: str = "timestamp",
        batch_rows: int = 50_000,
    ) -> tuple[int, Iterator[Any]]: ...

    # --- health
    def ping(self) -> None: ...
    def load(self) -> dict[str, tuple[float, str]]:
        """What the engine is doing now, for /metrics: name -> (value, what it is); a name
        ending in `_total` counts up. Cheap and never blocking (read at every scrape)."""
        ...

    def close(self) -> None: ...
