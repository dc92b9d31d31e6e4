"""The writer's side of the DuckDB store: one cursor, one transaction from begin to commit."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from promptpulse.store.duck import rollup_sql
from promptpulse.store.duck.kept import KeptSummary
from promptpulse.store.duck.sketch_lag import SketchLag


class DuckWriter:
    """What the single writer thread uses; from begin to commit is one transaction."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        kept: Sequence[KeptSummary[Any, Any]],
        lag: SketchLag,
        on_commit: Callable[[float], None] | None = None,
    ) -> None:
        self._con = con
        self._kept = kept  # summaries of the calls kept in memory: told of every commit
        self._lag = lag  # the store's: this transaction's number; told of every commit
        self._on_commit = on_commit  # told each transaction's length (the ingest share's load)
        self._began = 0.0
        self._seq = 0
        self._calls = 0

    def begin(self) -> None:
        self._began = time.perf_counter()
        self._seq, self._calls = self._lag.begin(), 0
        self._con.execute("BEGIN TRANSACTION")

    def commit(self) -> None:
        self._con.execute("COMMIT")
        self._lag.end(self._seq, self._calls)
        for summary in self._kept:
            summary.committed()
        if self._on_commit is not None:
            self._on_commit(time.perf_counter() - self._began)

    def rollback(self) -> None:
        for summary in self._kept:
            summary.rolled_back()
        try:
            self._con.execute("ROLLBACK")
        finally:
            self._lag.end(self._seq, 0)

    def key_hashes(self, events: pa.Table) -> np.ndarray:
        self._con.register("incoming_keys", events.select(["project", "id"]))
        try:
            result = self._con.execute("SELECT hash(project, id) AS h FROM incoming_keys")
            return np.asarray(result.fetchnumpy()["h"], dtype=np.uint64)
        finally:
            self._con.unregister("incoming_keys")

    def existing_keys(self, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        if not keys:
            return set()
        wanted = pa.table({"project": [k[0] for k in keys], "id": [k[1] for k in keys]})
        self._con.register("wanted_keys", wanted)
        try:
            rows = self._con.execute(
                "SELECT e.project, e.id FROM events e SEMI JOIN wanted_keys w "
                "ON e.project = w.project AND e.id = w.id"
            ).fetchall()
        finally:
            self._con.unregister("wanted_keys")
        return {(r[0], r[1]) for r in rows}

    def insert_events(self, events: pa.Table) -> set[tuple[str, str]]:
        # One process per DuckDB file: the writer's own index already knows every stored call.
        self._con.register("incoming_events", events)
        try:
            self._con.execute(
                "INSERT INTO events BY NAME SELECT *, ? AS commit_seq FROM incoming_events",
                [self._seq],
            )
            self._calls += events.num_rows
            # Rollup fragments commit with the calls: rollups are never behind raw data.
            rollup_sql.write_through(self._con, "incoming_events")
            for summary in self._kept:
                summary.stage(events)
        finally:
            self._con.unregister("incoming_events")
        return set()

    def insert_scores(self, scores: pa.Table) -> int:
        """Insert the scores not stored yet; returns how many were new."""
        self._con.register("incoming_scores", scores)
        try:
            # fetchall() finishes each result: an open one would block unregister (DuckDB 2).
            inserted = self._con.execute(
                "INSERT INTO scores BY NAME SELECT * FROM incoming_scores i "
                "WHERE NOT EXISTS (SELECT 1 FROM scores s WHERE s.project = i.project "
                "AND s.id = i.id)"
            ).fetchall()
        finally:
            self._con.unregister("incoming_scores")
        return int(inserted[0][0]) if inserted else 0


def release_cache(cur: duckdb.DuckDBPyConnection, limit: str) -> None:
    """Evict DuckDB's cached blocks by lowering its memory limit to 1 MB for a moment. Used
    once, after the writer's start-up scan of every call's key: those blocks (the ids, 61 MB
    at 10 M calls: idle RSS 351 -> 277 MB) serve no query, and DuckDB would keep them until its
    limit forced them out. Best effort. `limit`: the configured one, restored after."""
    try:
        cur.execute("SET memory_limit = '1MB'")
    except duckdb.Error:
        pass  # something is pinned: nothing is lost by keeping the blocks
    finally:
        cur.execute("SET memory_limit = ?", [limit])
