"""Grouping by `metadata.<key>`: the lookup of distinct texts and the per-call parse give the
same groups and figures, checked against Python's json and numpy on random calls."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from promptpulse.model import CATALOG, Dimension, Scope
from promptpulse.store.duck import DuckStore, grouped_quantiles
from promptpulse.store.duck import metadata_keys as mk
from promptpulse.store.duck.sql import where_clause
from tests.rollups.helpers import random_calls, write_direct

T0 = datetime(2025, 3, 3, tzinfo=UTC)
SCOPE = Scope(T0, T0 + timedelta(days=2))
METRICS = [CATALOG[m] for m in ("requests", "latency_p95_ms", "cost_usd", "active_users")]
TEXTS = (
    '{"tier": "gold", "region": "eu"}',
    '{"tier": "gold", "region": "us"}',  # another text, the same tier
    '{"tier": "free"}',
    '{"tier": null}',  # JSON null: no value
    '{"tier": 7, "x": [1, 2]}',  # a number: its text is the value
    '{"region": "eu", "o\'k": "it\'s"}',  # no tier; quotes in the text
    None,
)


def _store(tmp_path: Path, unique: bool) -> tuple[DuckStore, pa.Table]:
    rng = np.random.default_rng(3 if unique else 4)
    calls = random_calls(rng, 6_000, SCOPE.start, SCOPE.end, "alpha")
    picks = rng.integers(0, len(TEXTS), calls.num_rows)
    texts = [TEXTS[i] for i in picks]
    if unique:  # an id inside every text: no two alike
        texts = [
            None if t is None else json.dumps({**json.loads(t), "id": i})
            for i, t in enumerate(texts)
        ]
    calls = calls.set_column(
        calls.schema.get_field_index("metadata"), "metadata", pa.array(texts, pa.string())
    )
    store = DuckStore(tmp_path / "events.duckdb", rollup_min_calls=10**18)
    write_direct(store, calls)
    return store, calls


def _expected(calls: pa.Table, key: str) -> dict[str | None, dict[str, float]]:
    groups: dict[str | None, list[int]] = {}
    for i, text in enumerate(calls["metadata"].to_pylist()):
        value = None if text is None else json.loads(text).get(key)
        groups.setdefault(None if value is None else str(value), []).append(i)
    latency = np.asarray(calls["latency_ms"].to_numpy(zero_copy_only=False), dtype=float)
    cost = np.asarray(calls["cost_usd"].to_numpy(zero_copy_only=False), dtype=float)
    users = calls["user_id"].to_pylist()
    return {
        g: {
            "requests": len(rows),
            "latency_p95_ms": float(np.percentile(latency[rows], 95)),
            "cost_usd": float(np.nansum(cost[rows])),
            "active_users": len({users[i] for i in rows} - {None}),
        }
        for g, rows in groups.items()
    }


@pytest.mark.parametrize("in_scan", [True, False], ids=["quantile-in-scan", "two-passes"])
@pytest.mark.parametrize("unique", [False, True], ids=["few-texts", "unique-texts"])
def test_metadata_groups_match_json(
    tmp_path: Path, unique: bool, in_scan: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both ways of a grouped percentile: in the scan (a small store) and the two passes."""
    if not in_scan:
        monkeypatch.setattr(grouped_quantiles, "SORT_IN_SCAN", -1)
    store, calls = _store(tmp_path, unique)
    try:
        p95 = {"latency_ms": [CATALOG["latency_p95_ms"]]}
        beside = store._grouped_futures(SCOPE, p95, [("g0", "model")], [])
        assert bool(beside) is not in_scan  # the way this case means to test is the one taken
        for answer in beside.values():
            answer.result()
        where, params = where_clause(SCOPE)
        with store._cursor() as cur:
            lookup = mk.lookup_keys(cur, [Dimension("metadata.tier")], where, params)
        assert (lookup is None) is unique  # unique texts keep the per-call parse
        for dims in (["metadata.tier"], ["model", "metadata.region"]):
            rows = store.aggregate(SCOPE, METRICS, [Dimension(d) for d in dims])
            got = {r.group: r.values for r in rows}
            if dims == ["metadata.tier"]:
                want = _expected(calls, "tier")
                assert set(got) == {(g,) for g in want}
                for g, values in want.items():
                    for name, w in values.items():
                        assert got[(g,)][name] == pytest.approx(w, rel=1e-9), (g, name)
            else:
                assert sum(v["requests"] for v in got.values()) == calls.num_rows
                assert {g[1] for g in got} == {"eu", "us", None}
    finally:
        store.close()
