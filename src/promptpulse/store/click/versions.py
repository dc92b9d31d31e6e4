"""Prompt-version change markers, the ClickHouse way (a mixin of ClickStore): the first stored
call of each (project, prompt_id, prompt_version) matching the filters, kept when it falls in
the range. Duplicate rows not yet merged away do not change a minimum."""

from __future__ import annotations

from collections.abc import Callable

from promptpulse.model import Scope, VersionStart
from promptpulse.store.click.sql import EVENTS, Params, Record, aware_utc, filter_clause


class VersionsMixin:
    _records: Callable[..., list[Record]]

    def version_starts(self, scope: Scope) -> list[VersionStart]:
        """First seen over all stored history before the range ends, then only those at or
        after `from` (a version first called before the range is no change inside it)."""
        params = Params()
        end = params.time(scope.end)
        where = filter_clause(scope, params)
        start = params.time(scope.start)
        sql = (
            "SELECT project, prompt_id, assumeNotNull(prompt_version) AS version, "
            f"min(timestamp) AS first FROM {EVENTS} "
            f"WHERE timestamp < {end} AND prompt_version IS NOT NULL AND {where} "
            f"GROUP BY project, prompt_id, version HAVING first >= {start} "
            "ORDER BY first, project, prompt_id, version"
        )
        rows = self._records(sql, params)
        return [
            VersionStart(aware_utc(r["first"]), r["project"], r["prompt_id"], r["version"])  # type: ignore[arg-type]
            for r in rows
        ]
