"""A crash during a reprice leaves either the old costs or the new ones, never a mix: a real
`promptpulse serve` subprocess on DuckDB, a reprice of many calls started over the API, the
process SIGKILLed at several moments of it (timed against a reprice that ran to its end); after
each kill every call has the costs of before or every call those of after, and the rollups
match the raw calls. Restarted, the server resumes an interrupted reprice (roll-forward)."""

from __future__ import annotations

import math
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pytest

from promptpulse.config import Settings
from promptpulse.meta import MetaDB, Scope, add_entry, create_key, update_entry
from promptpulse.model import CALL_SCHEMA, CATALOG, PriceOverride
from promptpulse.model import Scope as Range
from promptpulse.prices import list_reprices
from promptpulse.store import open_store
from tests.store.conftest import write
from tests.test_durability import NOW, Served

pytestmark = pytest.mark.slow
N = 150_000
START = (NOW - timedelta(days=3)).replace(hour=0, minute=0, second=0)
END = NOW + timedelta(days=1)
WHOLE_DAYS = Range(START, NOW.replace(hour=0, minute=0, second=0))  # served from rollups
PRICES = ((1.0, 2.0), (3.0, 5.0))  # USD per million input, output tokens: A, then B


def make_calls(rng: np.random.Generator) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """N calls of one in-house model over the last days, priced with A by entry 1; and every
    call's cost at A and at B."""
    seconds = rng.uniform(0, (NOW - START).total_seconds() - 60, N)
    start = np.datetime64(START.replace(tzinfo=None), "us")
    ts = start + (seconds * 1e6).astype("timedelta64[us]")
    inp, out = rng.integers(1, 5000, N), rng.integers(0, 1000, N)
    costs = np.array([(inp * i + out * o) / 1e6 for i, o in PRICES])
    zeros = pa.array(np.zeros(N, np.int64))
    cols: dict[str, pa.Array] = {f.name: pa.nulls(N, f.type) for f in CALL_SCHEMA}
    cols.update({
        "project": pa.array(["p"] * N), "id": pa.array([f"c{i}" for i in range(N)]),
        "timestamp": pa.array(ts), "model": pa.array(["inhouse-1"] * N),
        "tags": pa.array([[]] * N, pa.list_(pa.string())), "status": pa.array(["success"] * N),
        "latency_ms": pa.array(np.full(N, 100.0)), "input_tokens": pa.array(inp),
        "output_tokens": pa.array(out), "cached_tokens": zeros, "reasoning_tokens": zeros,
        "cache_write_tokens": zeros, "cost_usd": pa.array(costs[0]),
        "cache_hit": pa.array(np.zeros(N, bool)), "retries": pa.array(np.zeros(N, np.int32)),
        "received_at": pa.array(ts), "price_ref": pa.array(["book:1"] * N),
    })  # fmt: skip
    return pa.table(cols).cast(CALL_SCHEMA), costs[0], costs[1]


def state(data_dir: Path, at_a: np.ndarray, at_b: np.ndarray) -> int:
    """0 when every call costs A, 1 when every call costs B (a mix fails); the rollups' total
    over whole days equals the raw calls' total there."""
    store = open_store(Settings(data_dir=data_dir, rollup_min_calls=0))
    try:
        got = store.call_table(Range(START, END), ["id", "timestamp", "cost_usd"])
        [rolled] = store.aggregate(WHOLE_DAYS, [CATALOG["cost_usd"]])
    finally:
        store.close()
    index = np.array([int(i[1:]) for i in got["id"].to_pylist()])
    cost = np.empty(N)
    cost[index] = got["cost_usd"].to_numpy(zero_copy_only=False)
    assert len(index) == N
    is_a, is_b = np.isclose(cost, at_a, rtol=1e-12), np.isclose(cost, at_b, rtol=1e-12)
    assert is_a.all() or is_b.all(), f"a mix: {is_a.sum()} at A, {is_b.sum()} at B"
    ts = got["timestamp"].to_numpy(zero_copy_only=False)
    in_days = ts < np.datetime64(WHOLE_DAYS.end.replace(tzinfo=None), "us")
    raw = math.fsum(got["cost_usd"].to_numpy(zero_copy_only=False)[in_days])
    assert math.isclose(rolled.values["cost_usd"], raw, rel_tol=1e-9)
    return 0 if is_a.all() else 1


def set_price(settings: Settings, which: int) -> None:
    """Entry 1 at price `which` (A: 0, B: 1)."""
    meta = MetaDB(settings.metadata_db_url)
    try:
        update_entry(meta, 1, PriceOverride("inhouse-1", *PRICES[which]), None, None)
    finally:
        meta.close()


def audit_rows(settings: Settings) -> int:
    meta = MetaDB(settings.metadata_db_url)
    try:
        return len(list_reprices(meta))
    finally:
        meta.close()


def reprice_then_kill(
    data_dir: Path, settings: Settings, admin: str, after_s: float | None
) -> float:
    """Start a server and a reprice over the API; SIGKILL the server `after_s` seconds after
    the reprice began (None: let it finish, then stop). Returns the seconds it ran."""
    rows = audit_rows(settings)
    server = Served(data_dir)
    body = {"from": START.isoformat(), "to": END.isoformat(), "dry_run": False}
    answer: list[int] = []

    def reprice() -> None:
        try:
            r = httpx.post(server.url + "/v1/prices/reprice", json=body, timeout=300,
                           headers={"Authorization": f"Bearer {admin}"})  # fmt: skip
            answer.append(r.status_code)
        except httpx.HTTPError:
            pass  # the server was killed under it

    thread = threading.Thread(target=reprice)
    thread.start()
    meta = MetaDB(settings.metadata_db_url)
    deadline = time.monotonic() + 60
    while len(list_reprices(meta)) == rows and time.monotonic() < deadline:
        time.sleep(0.005)  # its audit row says the reprice has begun
    began = time.monotonic()
    meta.close()
    if after_s is None:
        thread.join(timeout=300)
        server.stop()
        assert answer == [200]
    else:
        time.sleep(after_s)
        server.kill()
        thread.join(timeout=60)
    return time.monotonic() - began


def test_kill_9_during_a_reprice_leaves_old_or_new_costs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No background reprices while the kills are timed (a resumed one would run alongside).
    monkeypatch.setenv("PROMPTPULSE_REPRICE_INTERVAL_S", "0")
    at_a, at_b = make_calls(np.random.default_rng(9))[1:]
    table = make_calls(np.random.default_rng(9))[0]
    settings = Settings(data_dir=tmp_path)
    store = open_store(settings)
    try:
        write(store, "events", table, batch=50_000)
        store.rebuild_rollups(START, END)
    finally:
        store.close()
    meta = MetaDB(settings.metadata_db_url)
    assert add_entry(meta, "p", PriceOverride("inhouse-1", *PRICES[0])).id == 1
    _, admin = create_key(meta, None, frozenset({Scope.ADMIN}))
    meta.close()
    assert state(tmp_path, at_a, at_b) == 0

    set_price(settings, 1)  # a whole reprice to B: how long one takes
    took = reprice_then_kill(tmp_path, settings, admin, None)
    assert state(tmp_path, at_a, at_b) == 1
    outcomes = []
    for fraction in (0.0, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.95):
        now = state(tmp_path, at_a, at_b)
        set_price(settings, 1 - now)  # flip: every call should go to the other price
        reprice_then_kill(tmp_path, settings, admin, fraction * took)
        after = state(tmp_path, at_a, at_b)  # all before or all after, rollups matching
        outcomes.append("kept" if after == now else "flipped")
    print(f"reprice of {N} calls took {took:.2f} s; kills: {outcomes}")  # shown with -s
    assert outcomes[0] == "kept"  # killed at once: nothing written

    # Restarted, the server resumes the reprices it left running: every call at the book's
    # price.
    monkeypatch.delenv("PROMPTPULSE_REPRICE_INTERVAL_S")
    target = (
        1 - state(tmp_path, at_a, at_b) if outcomes[-1] == "kept" else state(tmp_path, at_a, at_b)
    )
    server = Served(tmp_path)
    try:
        meta = MetaDB(settings.metadata_db_url)
        deadline = time.monotonic() + 120
        while any(r["status"] in ("queued", "running") for r in list_reprices(meta)):
            assert time.monotonic() < deadline, list_reprices(meta)[:2]
            time.sleep(0.2)
        assert all(r["status"] == "done" for r in list_reprices(meta))
        meta.close()
    finally:
        server.stop()
    assert state(tmp_path, at_a, at_b) == target
