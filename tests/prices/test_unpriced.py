"""Unpriced calls: a metric that can alert, and repriced without any command once a price is
known (a price entry added over the API; or genai-prices knowing the model, by the periodic
pass)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from promptpulse.ingest.pipeline import prepare_events
from promptpulse.meta import MetaDB
from promptpulse.model import Scope
from promptpulse.prices import RepriceService, list_reprices
from promptpulse.prices.plan import CALL_COLUMNS
from promptpulse.store import open_store
from tests.alerts.conftest import T0, AlertServer, event, make_alert_server
from tests.conftest import iso, stop_server
from tests.prices.helpers import body, expected_cost
from tests.store.conftest import backend_settings, write


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AlertServer]:
    server, thread, s = make_alert_server(
        tmp_path_factory.mktemp("unpriced"), T0 + timedelta(minutes=10), reprice_interval_s=0.2
    )
    yield s
    stop_server(server, thread)


def overview(srv: AlertServer) -> dict:
    with srv.client(srv.key) as c:
        r = c.get(
            "/v1/metrics/overview", params={"from": iso(T0), "to": iso(T0 + timedelta(hours=1))}
        )
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]


def test_unpriced_calls_alert_then_get_costs_when_a_price_is_added(srv: AlertServer) -> None:
    calls = [
        event(T0 + timedelta(seconds=20 * i), f"u{i}", cost=None, model="acme-llm-9",
              input_tokens=1000 + i, output_tokens=10 * i)
        for i in range(12)
    ]  # fmt: skip
    srv.ingest(calls)
    assert overview(srv)["cost_usd"]["unpriced_requests"] == 12
    rule = {"name": "unpriced", "metric": "unpriced_requests", "operator": ">", "threshold": 0,
            "window": "15m"}  # fmt: skip
    with srv.client(srv.key) as c:
        assert c.post("/v1/alerts/rules", json=rule).status_code == 201
    fired = [ch for ch in srv.evaluate()["changes"] if ch["name"] == "unpriced"]
    assert [ch["event"] for ch in fired] == ["firing"]

    with srv.client(srv.key) as c:  # a price, since always; no reprice command
        r = c.put("/v1/prices/acme-llm-9", json={"input_per_mtok": 2, "output_per_mtok": 8})
        assert r.status_code == 200, r.text
        entry_id = r.json()["id"]
    deadline = time.monotonic() + 30
    while overview(srv)["cost_usd"]["unpriced_requests"] and time.monotonic() < deadline:
        time.sleep(0.2)
    o = overview(srv)
    assert o["cost_usd"]["unpriced_requests"] == 0
    want = math.fsum((e["input_tokens"] * 2 + e["output_tokens"] * 8) / 1e6 for e in calls)
    assert math.isclose(o["cost_usd"]["total"], want, rel_tol=1e-9)
    with srv.client(srv.key) as c:
        trail = c.get("/v1/prices/reprices").json()["reprices"]
    [auto] = [t for t in trail if t["actor"] == f"price entry {entry_id}"]
    assert auto["automatic"] and auto["status"] == "done" and auto["repriced"] == 12
    srv.clock.advance(minutes=1)
    resolved = [ch for ch in srv.evaluate()["changes"] if ch["name"] == "unpriced"]
    assert [ch.get("to") for ch in resolved] == ["resolved"]


def test_the_periodic_pass_prices_calls_of_models_now_known(tmp_path: Path) -> None:
    """Calls stored unpriced (as when genai-prices did not know the model yet) get the price
    genai-prices knows now; calls of a model nobody knows stay unpriced, with no audit row."""
    now = datetime(2025, 7, 1, tzinfo=UTC)
    store = open_store(backend_settings("duckdb", tmp_path / "data"))
    meta = MetaDB(f"sqlite:///{tmp_path / 'meta.sqlite'}")
    try:
        events = [
            {"id": f"k{i}", "project": "p", "model": "gpt-4o" if i % 2 else "acme-llm-2",
             "timestamp": (datetime(2025, 6, 3, tzinfo=UTC) + timedelta(hours=i)).isoformat(),
             "latency_ms": 1, "input_tokens": 500 + i, "output_tokens": 50}
            for i in range(20)
        ]  # fmt: skip
        prepared = prepare_events(
            body(events), key_project=None, overrides=lambda *a: None, now=now, max_events=20
        )
        unknown = prepared.table  # as stored by a server whose price data lacked gpt-4o:
        unknown = unknown.set_column(
            unknown.schema.get_field_index("cost_usd"), "cost_usd",
            pa.nulls(unknown.num_rows, pa.float64()),
        )  # fmt: skip
        unknown = unknown.set_column(
            unknown.schema.get_field_index("price_ref"), "price_ref",
            pa.nulls(unknown.num_rows, pa.string()),
        )  # fmt: skip
        write(store, "events", unknown)
        service = RepriceService(store, meta, lambda: now, "test")
        assert service.reprice_unpriced() == 10
        scope = Scope(datetime(2025, 6, 1, tzinfo=UTC), now)
        for call in store.call_table(scope, CALL_COLUMNS).to_pylist():
            cost, ref = expected_cost(call, [])
            if call["model"] == "gpt-4o":
                assert math.isclose(call["cost_usd"], cost, rel_tol=1e-9)
                assert call["price_ref"].split("@")[0] == ref
            else:
                assert call["cost_usd"] is None and cost is None
        [row] = list_reprices(meta)
        assert row["automatic"] and row["model"] == "gpt-4o" and row["repriced"] == 10
        assert service.reprice_unpriced() == 0 and len(list_reprices(meta)) == 1
    finally:
        store.close()
        meta.close()


def test_the_pass_waits_a_minute_after_start_and_a_stopping_server_ends_it(tmp_path: Path) -> None:
    """The first unpriced pass runs a minute after start-up, not in it; once the server stops,
    no further reprice starts (one cut short on ClickHouse would leave its days' rollups
    missing until resumed)."""
    clock = [datetime(2025, 7, 1, tzinfo=UTC)]
    store = open_store(backend_settings("duckdb", tmp_path / "data"))
    meta = MetaDB(f"sqlite:///{tmp_path / 'meta.sqlite'}")
    try:
        events = [
            {"id": f"s{i}", "project": "p", "model": "gpt-4o",
             "timestamp": (datetime(2025, 6, 3, tzinfo=UTC) + timedelta(hours=i)).isoformat(),
             "latency_ms": 1, "input_tokens": 500 + i, "output_tokens": 50}
            for i in range(6)
        ]  # fmt: skip
        prepared = prepare_events(
            body(events), key_project=None, overrides=lambda *a: None, now=clock[0], max_events=6
        )
        table = prepared.table
        for name, kind in (("cost_usd", pa.float64()), ("price_ref", pa.string())):
            at = table.schema.get_field_index(name)
            table = table.set_column(at, name, pa.nulls(table.num_rows, kind))
        write(store, "events", table)
        service = RepriceService(store, meta, lambda: clock[0], "test")
        service.run_once()
        assert list_reprices(meta) == []  # start-up: not yet
        clock[0] += timedelta(seconds=59)
        service.run_once()
        assert list_reprices(meta) == []
        clock[0] += timedelta(seconds=1)
        service.stopping.set()  # the server is stopping: the due pass does not start
        service.run_once()
        assert list_reprices(meta) == []
        service.stopping.clear()
        service.run_once()
        [row] = list_reprices(meta)
        assert row["repriced"] == 6 and row["automatic"]
    finally:
        store.close()
        meta.close()
