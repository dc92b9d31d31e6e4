"""Grouping by `metadata.<key>` without parsing the JSON of every call.

Calls of a project carry few distinct metadata texts (a tier, a region, an app version), so each
distinct text in scope is parsed once, and a call's group is looked up by its text: a list
position, about as fast per call as reading a column, where the JSON parse per call made a
metadata breakdown 2-4x slower than a column one. Where the texts are nearly all different (ids
inside metadata) the lookup would cost more than it saves and the per-call parse stays. Both
give the same groups: the values come from the same `json_extract_string` on the same texts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb

from promptpulse.model import Dimension
from promptpulse.store.duck.sql import dimension_sql

MAX_TEXTS = 256  # distinct texts in scope a lookup holds (found by linear search per call)
# A ~1 % block sample (whole vectors skipped: a few ms) says first whether texts repeat at all,
# so a store of unique texts never pays for the exact distinct scan.
REPEATS = 10


def lookup_keys(
    cur: duckdb.DuckDBPyConnection,
    group_by: Sequence[Dimension],
    where: str,
    params: Sequence[Any],
) -> tuple[list[str], list[Any]] | None:
    """The expression of each group and their parameters (they come first in the SELECT), or
    None when the per-call parse is the cheaper way."""
    if not _texts_repeat(cur, where, params):
        return None
    metadata = [d for d in group_by if d.is_metadata]
    values = ", ".join(dimension_sql(d, "m") for d in metadata)
    rows = cur.execute(
        f"SELECT m.metadata, {values} FROM (SELECT DISTINCT metadata FROM events "
        f"WHERE {where} AND metadata IS NOT NULL LIMIT {MAX_TEXTS + 1}) m",
        list(params),
    ).fetchall()
    if len(rows) > MAX_TEXTS:
        return None
    texts = [r[0] for r in rows]
    exprs: list[str] = []
    key_params: list[Any] = []
    for d in group_by:
        if not d.is_metadata:
            exprs.append(dimension_sql(d))
            continue
        # No text in the list (NULL metadata) gives position NULL, so value NULL: as parsing.
        exprs.append("list_extract(?::VARCHAR[], list_position(?::VARCHAR[], metadata))")
        key_params += [[r[1 + metadata.index(d)] for r in rows], texts]
    return exprs, key_params


def _texts_repeat(cur: duckdb.DuckDBPyConnection, where: str, params: Sequence[Any]) -> bool:
    row = cur.execute(
        "SELECT count(metadata), count(DISTINCT metadata) FROM events "
        f"TABLESAMPLE 1% (system) WHERE {where}",
        list(params),
    ).fetchone()
    assert row is not None
    sampled, texts = int(row[0]), int(row[1])
    return texts <= MAX_TEXTS // 4 or texts * REPEATS <= sampled
