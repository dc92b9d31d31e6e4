"""Prompt-version change markers, the DuckDB way (a mixin of DuckStore): the first stored call of
each (project, prompt_id, prompt_version) matching the filters, kept when it falls in the range.

Every time-series chart asks for them, and the answer is a scan of all stored history (140 ms
at 10 M calls), so the first call of each version is also kept in memory (`FirstCalls`): built
by one scan when first asked, kept up to date by the writer's commits, thrown away when calls
are deleted (retention, erasure). One process owns a DuckDB file, so no other writer can make
it stale. Filters on other dimensions than the version's own still ask the calls.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from promptpulse.model import Scope, VersionStart
from promptpulse.store.duck.kept import KeptSummary
from promptpulse.store.duck.sql import Record, aware_utc, filter_clause, naive_utc

VersionKey = tuple[str, str | None, str]  # (project, prompt_id, prompt_version)
KEY_COLUMNS = ("project", "prompt_id", "prompt_version")


class FirstCalls(KeptSummary[dict[VersionKey, datetime], dict[VersionKey, datetime]]):
    """(project, prompt_id, prompt_version) → its first stored call's time (naive UTC)."""

    columns = (*KEY_COLUMNS, "timestamp")

    def summarise(self, calls: pa.Table) -> dict[VersionKey, datetime]:
        return _first_per_version(calls)

    def fold(self, into: dict[VersionKey, datetime], batch: dict[VersionKey, datetime]) -> None:
        _fold(into, batch)


def _first_per_version(table: pa.Table) -> dict[VersionKey, datetime]:
    table = table.filter(pc.is_valid(table["prompt_version"]))
    grouped = table.group_by(list(KEY_COLUMNS), use_threads=False).aggregate([("timestamp", "min")])
    out: dict[VersionKey, datetime] = {}
    for row in grouped.to_pylist():
        first = row["timestamp_min"]
        out[(row["project"], row["prompt_id"], row["prompt_version"])] = naive_utc(first)
    return out


def _fold(into: dict[VersionKey, datetime], more: dict[VersionKey, datetime]) -> None:
    for key, first in more.items():
        if key not in into or first < into[key]:
            into[key] = first


class VersionsMixin:
    _records: Callable[[str, Sequence[Any]], list[Record]]
    _first_calls: FirstCalls

    def version_starts(self, scope: Scope) -> list[VersionStart]:
        """First seen over all stored history before the range ends (a version first called
        before `from` is no change inside it), then only those at or after `from`."""
        if all(f.dimension in KEY_COLUMNS for f in scope.filters):
            return self._version_starts_kept(scope)
        filters, params = filter_clause(scope)
        sql = (
            "SELECT project, prompt_id, prompt_version, min(timestamp) AS first FROM events "
            f"WHERE timestamp < ? AND prompt_version IS NOT NULL AND {filters} "
            "GROUP BY ALL HAVING min(timestamp) >= ? "
            "ORDER BY first, project, prompt_id, prompt_version"
        )
        rows = self._records(sql, [naive_utc(scope.end), *params, naive_utc(scope.start)])
        return [
            VersionStart(aware_utc(r["first"]), r["project"], r["prompt_id"], r["prompt_version"])  # type: ignore[arg-type]
            for r in rows
        ]

    def _version_starts_kept(self, scope: Scope) -> list[VersionStart]:
        start, end = naive_utc(scope.start), naive_utc(scope.end)
        wanted = [(KEY_COLUMNS.index(f.dimension), set(f.values)) for f in scope.filters]

        def in_scope(firsts: dict[VersionKey, datetime]) -> list[tuple[datetime, VersionKey]]:
            return [
                (first, key)
                for key, first in firsts.items()
                if start <= first < end and all(key[i] in values for i, values in wanted)
            ]

        found = self._first_calls.read(self._scan_first_calls, in_scope)
        # The SQL's order: time, then project, prompt_id (nulls last), version.
        found.sort(key=lambda fk: (fk[0], fk[1][0], fk[1][1] is None, fk[1][1] or "", fk[1][2]))
        return [VersionStart(first.replace(tzinfo=UTC), *key) for first, key in found]

    def _scan_first_calls(self) -> dict[VersionKey, datetime]:
        rows = self._records(
            "SELECT project, prompt_id, prompt_version, min(timestamp) AS first "
            "FROM events WHERE prompt_version IS NOT NULL GROUP BY ALL",
            [],
        )
        return {(r["project"], r["prompt_id"], r["prompt_version"]): r["first"] for r in rows}
