"""The writer's side of the ClickHouse store. ClickHouse has no transactions: from begin to
commit is a buffer, written at commit by one synchronous INSERT per table (the insert has
returned, so the rows are stored, before the writer acknowledges). A failed insert is retried by
the client; copies of a call it may leave behind collapse by (project, id) (see `schema`)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from promptpulse.store.click.sql import Params

if TYPE_CHECKING:
    from promptpulse.store.click.store import ClickStore

# The same hash on both sides: `key_hash` here and KEY_HASH_SQL over the stored calls.
KEY_HASH_SQL = "reinterpretAsUInt64(MD5(concat(project, '\\0', id)))"


def key_hash(project: str, ident: str) -> int:
    digest = hashlib.md5(f"{project}\0{ident}".encode(), usedforsecurity=False).digest()
    return int.from_bytes(digest[:8], "little")


class ClickWriter:
    """What the single writer thread uses; begin..commit is one buffered batch."""

    def __init__(self, store: ClickStore) -> None:
        self._store = store
        self._events: list[pa.Table] = []
        self._scores: list[pa.Table] = []

    def begin(self) -> None:
        self._events, self._scores = [], []

    def commit(self) -> None:
        events, scores = self._events, self._scores
        self._events, self._scores = [], []
        if events:
            self._store.insert("events", _no_null_lists(pa.concat_tables(events)))
        if scores:
            self._store.insert("scores", pa.concat_tables(scores))

    def rollback(self) -> None:
        self._events, self._scores = [], []

    def key_hashes(self, events: pa.Table) -> np.ndarray:
        keys = zip(
            events.column("project").to_pylist(), events.column("id").to_pylist(), strict=True
        )
        return np.fromiter(
            (key_hash(p, i) for p, i in keys), dtype=np.uint64, count=events.num_rows
        )

    def existing_keys(self, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        return self._store.stored_keys("events", "id", keys)

    def insert_events(self, events: pa.Table) -> set[tuple[str, str]]:
        """Buffer the calls not stored yet. The writer's in-memory index knows only what this
        process stored; another replica's calls are found here, so a client's retry through
        another replica is not stored twice (a copy racing in at the same moment is left to
        FINAL)."""
        stored = self._store.stored_calls(events)
        if stored:
            keys = zip(
                events.column("project").to_pylist(), events.column("id").to_pylist(), strict=True
            )
            events = events.filter(pa.array([k not in stored for k in keys], pa.bool_()))
        if events.num_rows:
            self._events.append(events)
        return stored

    def insert_scores(self, scores: pa.Table) -> int:
        """Buffer the scores not stored yet; returns how many were new."""
        keys = list(
            zip(scores.column("project").to_pylist(), scores.column("id").to_pylist(), strict=True)
        )
        stored = self._store.stored_keys("scores", "id", keys)
        for table in self._scores:  # buffered earlier in this batch
            stored |= set(
                zip(
                    table.column("project").to_pylist(), table.column("id").to_pylist(), strict=True
                )
            )
        keep = pa.array([k not in stored for k in keys], pa.bool_())
        new = scores.filter(keep)
        if new.num_rows:
            self._scores.append(new)
        return new.num_rows


def _no_null_lists(table: pa.Table) -> pa.Table:
    """No tags is an empty Array in ClickHouse (an Array is never Nullable)."""
    i = table.schema.get_field_index("tags")
    if i < 0 or table.column(i).null_count == 0:
        return table
    tags = table.column(i)
    filled = pc.if_else(pc.is_null(tags), pa.scalar([], tags.type), tags)
    return table.set_column(i, "tags", filled)


def keys_param(params: Params, keys: Sequence[tuple[str, str]]) -> str:
    return params.add([tuple(k) for k in keys], "Array(Tuple(String, String))")
