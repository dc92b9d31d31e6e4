"""An in-memory DuckDB table of mergeable fragments per (project, UTC time bucket, ...), for the
summaries kept in memory (histograms.py): each commit appends its fragments, readers
merge what they select, and every so many fragments they are merged for good."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

_MERGE_EVERY = 2_000  # fragments appended before they are merged into one row per key


class FragmentTable:
    """`columns`: the table's columns after (project VARCHAR, bucket TIMESTAMP); `keys`: those of
    them that are keys too; `merged`: the select list that merges the rest (with their names)."""

    def __init__(self, columns: str, keys: Sequence[str], merged: str) -> None:
        self._db = duckdb.connect(":memory:")
        self._db.execute(f"CREATE TABLE kept (project VARCHAR, bucket TIMESTAMP, {columns})")
        self._keys = ", ".join(["project", "bucket", *keys])
        self._merged = merged
        self._unmerged = 0

    def add(self, fragments: pa.Table) -> None:
        self._db.register("fragments", fragments)
        try:
            # fetchall() finishes the result: an open one would block unregister (DuckDB 2).
            self._db.execute("INSERT INTO kept BY NAME SELECT * FROM fragments").fetchall()
        finally:
            self._db.unregister("fragments")
        self._unmerged += fragments.num_rows
        if self._unmerged > _MERGE_EVERY:
            self._db.execute(
                f"CREATE OR REPLACE TABLE kept AS SELECT {self._keys}, {self._merged} FROM kept "
                f"GROUP BY {self._keys}"
            ).fetchall()
            self._unmerged = 0

    def select(
        self,
        select: str,
        projects: Sequence[str] | None,
        first: datetime,
        stop: datetime,
        tail: str = "",
        params: Sequence[Any] = (),
    ) -> list[tuple[Any, ...]]:
        """`select` over the rows of those projects (all: None) in [first, stop) (naive UTC);
        `tail` follows the WHERE (more conditions, GROUP BY ...) with `params`."""
        where = "bucket >= ? AND bucket < ?"
        args: list[Any] = [first, stop]
        if projects is not None:
            where += f" AND project IN ({', '.join('?' for _ in projects)})"
            args += list(projects)
        sql = f"SELECT {select} FROM kept WHERE {where} {tail}"
        return self._db.execute(sql, [*args, *params]).fetchall()


_local = threading.local()


def summarise(calls: pa.Table, sql: str) -> pa.Table:
    """`sql` (reading the table `calls`) over a commit's calls, on this thread's own in-memory
    connection (the writer's thread: readers never wait for it)."""
    db = getattr(_local, "db", None)
    if db is None:
        db = _local.db = duckdb.connect(":memory:")
    db.register("calls", calls)
    try:
        return db.sql(sql).to_arrow_table()
    finally:
        db.unregister("calls")
