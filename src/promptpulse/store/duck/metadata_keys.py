"""Grouping by `metadata.<key>` without parsing the JSON of every call.

Calls of a project carry few distinct metadata texts (a tier, a region, an app version), so each
distinct text in scope is parsed once, and a call's group is looked up by its text: a list
position, about as fast per call as reading a column, where the JSON parse per call made a
metadata breakdown 2-4x slower than a column one. Where the texts are nearly all different (ids
inside metadata) the lookup would cost more than it saves and the per-call parse stays. Both
give the same groups: the values come from the same `json_extract_string` on the same texts.

The scans group by a value's number in the sorted list of values, not by the value's text: an
integer key makes DuckDB's grouping cheaper (a breakdown's two scans: ~165 -> ~148 ms at 10 M
calls), and the rows get their texts back after (`Lookup.decoded`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import duckdb

from promptpulse.model import AggRow, Dimension, Scope
from promptpulse.store.duck.metadata_texts import MAX_TEXTS, MetadataTexts, scan_texts, texts_of
from promptpulse.store.duck.sql import dimension_sql, where_clause

# A ~1 % block sample (whole vectors skipped: a few ms) says first whether texts repeat at all,
# so a store of unique texts never pays for the exact distinct scan.
REPEATS = 10


@dataclass(frozen=True)
class Lookup:
    """How a scan groups by metadata keys: each group's expression and their parameters (they
    come first in the SELECT), and, per metadata group, the values its numbers stand for."""

    exprs: list[str]
    params: list[Any]
    values: dict[int, list[str]]  # group position -> value of each number

    def decoded(self, rows: list[AggRow]) -> list[AggRow]:
        """The rows of the scan with each metadata group's number replaced by its value."""
        for row in rows:
            row.group = tuple(
                self.values[i][v] if i in self.values and v is not None else v
                for i, v in enumerate(row.group)
            )
        return rows


def lookup_keys(
    cur: duckdb.DuckDBPyConnection,
    group_by: Sequence[Dimension],
    where: str,
    params: Sequence[Any],
    known: list[str] | None = None,
) -> Lookup | None:
    """How the scan groups by number instead of parsing each call's text, or None when the
    per-call parse is the cheaper way. `known`: every text the range's calls may
    carry, if known (metadata_texts.py); else they are found in the range."""
    metadata = [d for d in group_by if d.is_metadata]
    extracted = ", ".join(dimension_sql(d, "m") for d in metadata)
    if known is not None:
        texts_sql, texts_params = "SELECT unnest(?::VARCHAR[]) AS metadata", [known]
    elif _texts_repeat(cur, where, params):
        texts_sql = (
            f"SELECT DISTINCT metadata FROM events WHERE {where} AND metadata IS NOT NULL "
            f"LIMIT {MAX_TEXTS + 1}"
        )
        texts_params = list(params)
    else:
        return None
    rows = cur.execute(
        f"SELECT m.metadata, {extracted} FROM ({texts_sql}) m", texts_params
    ).fetchall()
    if len(rows) > MAX_TEXTS:
        return None
    texts = [r[0] for r in rows]
    exprs: list[str] = []
    key_params: list[Any] = []
    values: dict[int, list[str]] = {}
    for i, d in enumerate(group_by):
        if not d.is_metadata:
            exprs.append(dimension_sql(d))
            continue
        of_text = [r[1 + metadata.index(d)] for r in rows]  # None: the text has no value
        values[i] = sorted({v for v in of_text if v is not None})
        number = {v: n for n, v in enumerate(values[i])}
        # No text in the list (NULL metadata) gives position NULL, so number NULL: as parsing.
        exprs.append("list_extract(?::INTEGER[], list_position(?::VARCHAR[], metadata))")
        key_params += [[None if v is None else number[v] for v in of_text], texts]
    return Lookup(exprs, key_params, values)


def _texts_repeat(cur: duckdb.DuckDBPyConnection, where: str, params: Sequence[Any]) -> bool:
    row = cur.execute(
        "SELECT count(metadata), count(DISTINCT metadata) FROM events "
        f"TABLESAMPLE 1% (system) WHERE {where}",
        list(params),
    ).fetchone()
    assert row is not None
    sampled, texts = int(row[0]), int(row[1])
    return texts <= MAX_TEXTS // 4 or texts * REPEATS <= sampled


class MetadataKeysMixin:
    _cursor: Callable[..., AbstractContextManager[duckdb.DuckDBPyConnection]]
    _with_cursor: Callable[..., Any]
    _metadata_texts: MetadataTexts

    def _metadata_lookup(self, scope: Scope, group_by: Sequence[Dimension]) -> Lookup | None:
        """`lookup_keys` for a grouping by metadata keys, from the texts kept for the range's
        projects when they are few enough to list."""
        known = self._metadata_texts.read(
            lambda: self._with_cursor(scan_texts),
            lambda kept: texts_of(kept, scope.filter_values("project")),
        )
        where, params = where_clause(scope)
        with self._cursor() as cur:
            return lookup_keys(cur, group_by, where, params, known)
