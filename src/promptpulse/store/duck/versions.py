"""Prompt-version change markers, the DuckDB way (a mixin of DuckStore): the first stored call of
each (project, prompt_id, prompt_version) matching the filters, kept when it falls in the range."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from promptpulse.model import Scope, VersionStart
from promptpulse.store.duck.sql import Record, aware_utc, filter_clause, naive_utc


class VersionsMixin:
    _records: Callable[[str, Sequence[Any]], list[Record]]

    def version_starts(self, scope: Scope) -> list[VersionStart]:
        """First seen over all stored history before the range ends (a version first called
        before `from` is no change inside it), then only those at or after `from`."""
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
