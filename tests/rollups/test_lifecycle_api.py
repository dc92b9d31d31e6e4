"""Rollups, retention, erasure and exports through a real server (injected clock), real DuckDB
file, real HTTP; Parquet read back with pyarrow."""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import orjson
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from promptpulse.store.sketch import ALPHA
from tests.conftest import LiveServer, iso, start_server, stop_server

NOW = datetime(2025, 9, 1, tzinfo=UTC)
START = NOW - timedelta(days=200)
SERIES = "requests,errors,cost_usd,tokens,latency_p50_ms,latency_p95_ms,latency_p99_ms,ttft_p95_ms"
ALL_FEATURES = [("feature", f) for f in ("f0", "f1", "f2")]  # same calls, but raw-only


def make_events(rng: np.random.Generator, n: int) -> list[dict]:
    out = []
    for i in range(n):
        t = START + timedelta(seconds=float(rng.uniform(0, 200 * 86400)))
        err = rng.random() < 0.1
        e = {
            "id": f"e{i}",
            "timestamp": iso(t),
            "model": str(rng.choice(["gpt-4o", "gpt-4o-mini", "acme-1"])),
            "prompt_id": str(rng.choice(["support", "search"])),
            "environment": str(rng.choice(["prod", "dev"])),
            "feature": f"f{rng.integers(0, 3)}",
            "user_id": f"u{rng.integers(0, 40)}",
            "latency_ms": float(rng.lognormal(6, 0.7)),
            "input_tokens": int(rng.integers(0, 3000)),
            "output_tokens": int(rng.integers(0, 500)),
            "metadata": {"tier": str(rng.choice(["free", "pro"]))},
        }
        if rng.random() < 0.6:
            e["ttft_ms"] = e["latency_ms"] * 0.3
        if err:
            e["status"], e["error_type"] = "error", "timeout"
        out.append(e)
    return out


class Env:
    def __init__(self, live: LiveServer) -> None:
        self.live = live
        self.admin = live.client(live.key(None, "admin,read,ingest"))
        self.a = live.client(live.key("alpha", "ingest,read"))
        self.b = live.client(live.key("beta", "ingest,read"))


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    server, thread, live = start_server(
        tmp_path_factory.mktemp("life"),
        clock=lambda: NOW,
        rollup_min_calls=0,
        rollup_interval_s=0,
        retention_interval_s=0,
    )
    e = Env(live)
    rng = np.random.default_rng(21)
    for client, n in ((e.a, 3000), (e.b, 1000)):
        events = make_events(rng, n)
        for i in range(0, n, 1000):
            r = client.post("/v1/events", json={"events": events[i : i + 1000]})
            assert r.status_code == 200, r.text
    yield e
    for c in (e.admin, e.a, e.b):
        c.close()
    stop_server(server, thread)
    live.meta.close()


def series(c: httpx.Client, params: list[tuple[str, str]]) -> dict:
    r = c.get("/v1/metrics/timeseries", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def long_range(extra: list[tuple[str, str]] = ()) -> list[tuple[str, str]]:  # type: ignore[assignment]
    return [
        ("from", iso(START)),
        ("to", iso(NOW)),
        ("interval", "week"),
        ("metrics", SERIES),
        *extra,
    ]


def assert_series_close(got: dict, want: dict) -> None:
    for gs, ws in zip(got["series"], want["series"], strict=True):
        for g, w in zip(gs["points"], ws["points"], strict=True):
            assert g["t"] == w["t"]
            for name in SERIES.split(","):
                if "_p" in name and w[name] is not None:
                    assert abs(g[name] - w[name]) <= ALPHA * w[name] + 1e-9, (g["t"], name)
                else:
                    assert g[name] == pytest.approx(w[name], rel=1e-9), (g["t"], name)


def test_long_range_answers_from_rollups_and_says_so(env: Env) -> None:
    rolled = series(env.a, long_range())
    raw = series(env.a, long_range(ALL_FEATURES))
    assert rolled.get("approximate") is True and "approximate" not in raw
    assert sum(p["requests"] for p in rolled["series"][0]["points"]) == 3000
    assert_series_close(rolled, raw)
    # Breakdown and overview too.
    params = [("from", iso(START)), ("to", iso(NOW - timedelta(hours=3, minutes=7)))]
    over = env.a.get("/v1/metrics/overview", params=params).json()
    over_raw = env.a.get("/v1/metrics/overview", params=params + ALL_FEATURES).json()
    assert over["approximate"] is True and "approximate" not in over_raw
    assert over["requests"] == over_raw["requests"] and over["errors"] == over_raw["errors"]
    assert over["cost_usd"]["total"] == pytest.approx(over_raw["cost_usd"]["total"], rel=1e-9)
    assert over["latency_ms"]["p95"] == pytest.approx(over_raw["latency_ms"]["p95"], rel=ALPHA)
    assert over["active_users"] == over_raw["active_users"] == 40


def test_retention_keeps_long_range_figures(env: Env) -> None:
    before = series(env.a, long_range())
    before_b = series(env.b, long_range())
    r = env.a.put("/v1/retention/alpha", json={"raw_days": 30})
    assert r.status_code == 403  # needs the admin scope
    r = env.admin.put("/v1/retention/beta", json={"raw_days": 30})
    assert r.status_code == 200 and r.json()["projects"]["beta"]["effective"]["raw_days"] == 30
    r = env.admin.post("/v1/retention/apply")
    assert r.status_code == 200, r.text
    deleted = {(d["data_class"], d["project"]): d["deleted"] for d in r.json()["deleted"]}
    assert deleted[("raw", None)] > 0 and deleted[("raw", "beta")] > 0
    # Raw calls older than 90 days (alpha) / 30 days (beta) are gone ...
    old = [("from", iso(START)), ("to", iso(NOW - timedelta(days=91))), *ALL_FEATURES]
    assert env.a.get("/v1/metrics/overview", params=old).json()["requests"] == 0
    kept = [("from", iso(NOW - timedelta(days=29))), ("to", iso(NOW)), *ALL_FEATURES]
    assert env.b.get("/v1/metrics/overview", params=kept).json()["requests"] > 0
    # ... and every long-range figure rollups answer is unchanged.
    assert series(env.a, long_range()) == before
    assert series(env.b, long_range()) == before_b
    got = env.a.get("/v1/retention").json()
    assert got["defaults"]["raw_days"] == 90 and "beta" not in got["projects"]


def test_erasure_of_a_user(env: Env) -> None:
    recent = [("from", iso(NOW - timedelta(days=60))), ("to", iso(NOW))]
    users = [("user_id", "u7")]
    mine = env.a.get("/v1/metrics/overview", params=recent + users).json()["requests"]
    total = env.a.get("/v1/metrics/overview", params=recent).json()["requests"]
    assert mine > 0
    assert env.a.post("/v1/erasure", json={"project": "alpha", "user_id": "u7"}).status_code == 403
    r = env.admin.post("/v1/erasure", json={"project": "alpha", "user_id": "u7"})
    assert r.status_code == 200 and r.json()["calls"] >= mine
    assert env.a.get("/v1/metrics/overview", params=recent + users).json()["requests"] == 0
    after = env.a.get("/v1/metrics/overview", params=recent).json()
    assert after["requests"] == total - mine and after.get("approximate") is True  # rollups


def wait_done(c: httpx.Client, job: dict) -> dict:
    for _ in range(500):
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.02)
        job = c.get(f"/v1/exports/{job['id']}").json()
    raise AssertionError("export did not finish")


def test_parquet_export_reads_back_equal_to_the_store(env: Env) -> None:
    start, end = NOW - timedelta(days=20), NOW
    r = env.a.post(
        "/v1/exports",
        json={
            "format": "parquet",
            "from": iso(start),
            "to": iso(end),
            "filters": {"environment": ["prod"]},
        },
    )
    assert r.status_code == 202, r.text
    job = wait_done(env.a, r.json())
    assert job["status"] == "done", job
    m = job["manifest"]
    assert env.b.get(f"/v1/exports/{job['id']}").status_code == 404  # another project's
    body = env.a.get(f"/v1/exports/{job['id']}/download").content
    assert hashlib.sha256(body).hexdigest() == m["files"][0]["sha256"]
    table = pq.read_table(io.BytesIO(body))
    assert table.num_rows == m["row_count"] > 0
    assert m["filters"] == {"environment": ["prod"], "project": ["alpha"]}
    assert {"id", "timestamp", "latency_ms", "metadata"} <= set(table.column_names)
    stored = env.live.ctx.store.execute(
        "SELECT id, timestamp, latency_ms, model, cost_usd FROM events WHERE project = 'alpha' "
        "AND environment = 'prod' AND timestamp >= ? AND timestamp < ? ORDER BY timestamp, id",
        [start.replace(tzinfo=None), end.replace(tzinfo=None)],
    )
    got = table.select(["id", "timestamp", "latency_ms", "model", "cost_usd"]).to_pylist()
    assert [
        (r["id"], r["timestamp"].replace(tzinfo=None), r["latency_ms"], r["model"], r["cost_usd"])
        for r in got
    ] == [tuple(s) for s in stored]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_csv_and_jsonl_exports(env: Env, fmt: str) -> None:
    start, end = NOW - timedelta(days=10), NOW
    r = env.b.post(
        "/v1/exports",
        json={
            "format": fmt,
            "from": iso(start),
            "to": iso(end),
            "columns": ["id", "timestamp", "metadata", "cost_usd"],
        },
    )
    job = wait_done(env.b, r.json())
    body = env.b.get(f"/v1/exports/{job['id']}/download").content
    if fmt == "csv":
        rows = pacsv.read_csv(io.BytesIO(body)).to_pylist()
    else:
        rows = [orjson.loads(line) for line in body.splitlines()]
        assert all(isinstance(r["metadata"], dict) and r["timestamp"].endswith("Z") for r in rows)
    want = env.live.ctx.store.execute(
        "SELECT count(*) FROM events WHERE project = 'beta' AND timestamp >= ? AND timestamp < ?",
        [start.replace(tzinfo=None), end.replace(tzinfo=None)],
    )[0][0]
    assert len(rows) == job["manifest"]["row_count"] == want > 0
    assert list(rows[0]) == ["id", "timestamp", "metadata", "cost_usd"]


def test_rollup_export_and_bad_requests(env: Env) -> None:
    r = env.a.post(
        "/v1/exports",
        json={"format": "parquet", "source": "daily", "from": iso(START), "to": iso(NOW)},
    )
    job = wait_done(env.a, r.json())
    table = pq.read_table(io.BytesIO(env.a.get(f"/v1/exports/{job['id']}/download").content))
    over = env.a.get("/v1/metrics/overview", params=[("from", iso(START)), ("to", iso(NOW))])
    assert sum(table.column("a_count").to_pylist()) == over.json()["requests"] > 0
    assert set(table.column("project").to_pylist()) == {"alpha"}
    bad = env.a.post(
        "/v1/exports",
        json={
            "format": "xml",
            "from": iso(START),
            "to": iso(NOW),
            "source": "hourly",
            "filters": {"feature": "f1"},
        },
    )
    assert bad.status_code == 422
    fields = {e["field"] for e in bad.json()["errors"]}
    assert fields == {"format"}
    bad = env.a.post(
        "/v1/exports",
        json={"from": iso(START), "to": iso(NOW), "source": "hourly", "filters": {"feature": "f1"}},
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "filters"
