"""The Live delta of a commit (web/live_delta.py) against numpy on random batches of several
projects, including a backfill spanning more minutes than a delta carries."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from promptpulse.model.records import CALL_SCHEMA
from promptpulse.web.live_delta import MAX_MINUTES, NEWEST_CALLS, project_deltas

START = datetime(2026, 12, 2, 19, 0)


def _batch(rng: np.random.Generator, n: int, projects: int, span_s: float) -> pa.Table:
    columns = {f.name: pa.nulls(n, f.type) for f in CALL_SCHEMA}
    stamps = [START + timedelta(seconds=float(s)) for s in rng.uniform(0, span_s, n)]
    cost = rng.uniform(0, 0.01, n)
    columns |= {
        "project": pa.array([f"p{i}" for i in rng.integers(0, projects, n)]),
        "id": pa.array([f"id{i}" for i in range(n)]),
        "timestamp": pa.array(stamps, pa.timestamp("us")),
        "model": pa.array(["m"] * n),
        "status": pa.array(np.where(rng.random(n) < 0.15, "error", "success")),
        "latency_ms": pa.array(rng.uniform(1, 900, n)),
        "input_tokens": pa.array(rng.integers(0, 900, n)),
        "output_tokens": pa.array(rng.integers(0, 300, n)),
        "cached_tokens": pa.array(rng.integers(0, 50, n)),
        "cost_usd": pa.array(cost, mask=rng.random(n) < 0.1),
        "cache_hit": pa.array(rng.random(n) < 0.2),
    }
    return pa.table({f.name: columns[f.name].cast(f.type) for f in CALL_SCHEMA})


@pytest.mark.parametrize(("n", "projects", "span_s"), [(1, 1, 1), (700, 1, 600), (2000, 3, 7200)])
def test_each_projects_delta_is_its_calls_sums(n: int, projects: int, span_s: float) -> None:
    rng = np.random.default_rng(n)
    batch = _batch(rng, n, projects, span_s)
    deltas = project_deltas(batch)
    names = np.array(batch.column("project").to_pylist())
    stamps = batch.column("timestamp").to_numpy()
    cost = np.array(batch.column("cost_usd").to_pylist(), dtype=float)
    assert set(deltas) == set(names)
    for project, d in deltas.items():
        mine = names == project
        errors = np.array(batch.column("status").to_pylist())[mine] == "error"
        assert d["requests"] == mine.sum() and d["errors"] == errors.sum()
        for name in ("input_tokens", "output_tokens", "cached_tokens"):
            assert d[name] == batch.column(name).to_numpy()[mine].sum(), name
        assert d["cost_usd"] == pytest.approx(np.nansum(cost[mine]), rel=1e-9)
        assert d["unpriced_requests"] == np.isnan(cost[mine]).sum()
        assert (
            d["cache_hits"] == batch.column("cache_hit").to_numpy(zero_copy_only=False)[mine].sum()
        )
        minutes, counts = np.unique(stamps[mine].astype("datetime64[m]"), return_counts=True)
        kept = list(zip(minutes, counts, strict=True))[-MAX_MINUTES:]
        assert [(np.datetime64(m["t"], "m"), m["requests"]) for m in d["minutes"]] == kept
        assert d["minutes_complete"] == (len(minutes) <= MAX_MINUTES)
        newest = np.argsort(-stamps[mine].astype(np.int64), kind="stable")[:NEWEST_CALLS]
        ids = np.array(batch.column("id").to_pylist())[mine]
        assert [c["id"] for c in d["calls"]] == list(ids[newest])


def test_an_empty_commit_has_no_delta() -> None:
    assert project_deltas(_batch(np.random.default_rng(0), 0, 1, 1)) == {}
