"""GET /v1/budgets/check on a real server: every budget whose filters match the described call,
its spend from memory equal to an independent sum of the calls sent (duplicates once) while
clients ingest concurrently, `allowed` flipping exactly at the amount, and bad input as 4xx."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from tests.conftest import LiveServer, iso, start_server, stop_server

PROJECT = "chk"
PROMPTS, MODELS, USERS = ["a", "b", "c"], ["m1", "m2"], ["u1", "u2", "u3"]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server, thread, info = start_server(
        tmp_path_factory.mktemp("check"), alerts_interval_s=0, budget_check_refresh_s=3600
    )
    yield info
    stop_server(server, thread)


def _events(seed: int, n: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    now = datetime.now(UTC)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    span = max((now - start).total_seconds() - 60, 1.0)
    return [
        {
            "id": f"s{seed}-{i}",
            "timestamp": iso(start + timedelta(seconds=float(rng.uniform(0, span)))),
            "model": MODELS[int(rng.integers(0, 2))],
            "prompt_id": PROMPTS[int(rng.integers(0, 3))],
            "user_id": USERS[int(rng.integers(0, 3))],
            "tags": ["vip"] if rng.random() < 0.3 else [],
            "latency_ms": 100.0,
            "input_tokens": int(rng.integers(1, 500)),
            "output_tokens": int(rng.integers(1, 200)),
            "cost_usd": float(rng.uniform(0.0001, 0.01)),
        }
        for i in range(n)
    ]


BUDGETS = [
    {"name": "all", "amount": 1e6, "filters": {}},
    {"name": "prompt a", "amount": 1e6, "filters": {"prompt_id": "a"}},
    {"name": "m1 or m2 for u1", "amount": 1e6, "metric": "tokens",
     "filters": {"model": ["m1", "m2"], "user_id": "u1"}},
    {"name": "vip", "amount": 1e6, "metric": "requests", "filters": {"tag": "vip"}},
]  # fmt: skip
EVERY = {"prompt_id": "a", "model": "m1", "user_id": "u1", "tag": "vip"}  # matches them all
METRIC = {"cost_usd": lambda e: e["cost_usd"], "requests": lambda e: 1,
          "tokens": lambda e: e["input_tokens"] + e["output_tokens"]}  # fmt: skip


def _matches(filters: dict[str, Any], e: dict[str, Any]) -> bool:
    for dim, values in filters.items():
        values = values if isinstance(values, list) else [values]
        have = e.get("tags", []) if dim == "tag" else [e.get(dim)]
        if not set(values) & set(have):
            return False
    return True


def _want(budget: dict[str, Any], events: list[dict[str, Any]]) -> float:
    f = METRIC[budget.get("metric", "cost_usd")]
    return float(sum(f(e) for e in events if _matches(budget["filters"], e)))


def _ingest(live: LiveServer, key: str, events: list[dict[str, Any]], size: int) -> None:
    with live.client(key) as c:
        for i in range(0, len(events), size):
            r = c.post("/v1/events", json={"events": events[i : i + size]})
            assert r.status_code == 200, r.text


def test_spend_from_memory_is_exact_under_concurrent_ingest(live: LiveServer) -> None:
    admin, key = live.key(None, "admin"), live.key(PROJECT, "ingest,read,admin")
    ids = {}
    with live.client(key) as c:
        for b in BUDGETS:
            r = c.post("/v1/budgets", json=b)
            assert r.status_code == 201, r.text
            ids[b["name"]] = r.json()["id"]
    live.ctx.budget_checks.refresh()  # the new budgets, with nothing spent yet
    batches = [_events(seed, 600) for seed in range(4)]
    sent = [e for b in batches for e in b]
    again = batches[0][:150]  # resent: duplicates must not count twice
    seen: list[dict[str, float]] = []
    stop = threading.Event()

    def poll() -> None:
        with live.client(key) as c:
            while not stop.is_set():
                r = c.get("/v1/budgets/check", params=EVERY)
                assert r.status_code == 200, r.text
                seen.append({b["name"]: b["spent"] for b in r.json()["budgets"]})

    poller = threading.Thread(target=poll)
    poller.start()
    senders = [threading.Thread(target=_ingest, args=(live, key, b, 50)) for b in batches]
    senders.append(threading.Thread(target=_ingest, args=(live, key, again, 50)))
    for t in senders:
        t.start()
    for t in senders:
        t.join()
    stop.set()
    poller.join()
    with live.client(key) as c:
        r = c.get("/v1/budgets/check", params=EVERY)
    got = {b["name"]: b for b in r.json()["budgets"]}
    assert set(got) == {b["name"] for b in BUDGETS}
    for b in BUDGETS:
        assert got[b["name"]]["spent"] == pytest.approx(_want(b, sent), rel=1e-9), b["name"]
    assert len(seen) > 3
    for name in got:  # spend only grows while calls arrive
        series = [s[name] for s in seen if name in s]
        assert all(x <= y + 1e-12 for x, y in itertools.pairwise(series)), name
    live.ctx.budget_checks.refresh()  # the store agrees with memory
    with live.client(admin) as c:
        r = c.get("/v1/budgets/check", params={**EVERY, "project": PROJECT})
        again_got = {b["name"]: b for b in r.json()["budgets"]}
    for b in BUDGETS:
        assert again_got[b["name"]]["spent"] == pytest.approx(_want(b, sent), rel=1e-9)
    with live.client(key) as c:
        for b in ids.values():
            assert c.delete(f"/v1/budgets/{b}").status_code == 204
    live.ctx.budget_checks.refresh()


def test_matching_budgets_and_allowed(live: LiveServer) -> None:
    key = live.key("flip", "ingest,read,admin")
    made = []
    with live.client(key) as c:
        for b in [*BUDGETS, {"name": "ten calls", "amount": 10, "metric": "requests",
                              "filters": {"prompt_id": "z"}}]:  # fmt: skip
            r = c.post("/v1/budgets", json=b)
            assert r.status_code == 201, r.text
            made.append(r.json()["id"])
    live.ctx.budget_checks.refresh()
    rng = np.random.default_rng(7)
    with live.client(key) as c:
        for _ in range(30):  # which budgets a call falls in: as the filters say
            call: dict[str, Any] = {}
            for dim, pool in (("prompt_id", PROMPTS), ("model", MODELS), ("user_id", USERS)):
                if rng.random() < 0.7:
                    call[dim] = pool[int(rng.integers(0, len(pool)))]
            if rng.random() < 0.5:
                call["tags"] = ["vip"]
            params = {k: v for k, v in call.items() if k != "tags"}
            if call.get("tags"):
                params["tag"] = "vip"
            got = {b["name"] for b in c.get("/v1/budgets/check", params=params).json()["budgets"]}
            assert got == {b["name"] for b in BUDGETS if _matches(b["filters"], call)}, call
        events = [{**e, "prompt_id": "z", "id": f"z{i}"} for i, e in enumerate(_events(9, 10))]
        for i, e in enumerate(events):
            before = c.get("/v1/budgets/check", params={"prompt_id": "z"}).json()
            assert before["allowed"] is (i < 10)
            [ten] = [b for b in before["budgets"] if b["name"] == "ten calls"]
            assert ten["spent"] == i and ten["over"] is (i >= 10)
            projected = c.get("/v1/budgets/check", params={"prompt_id": "z", "mode": "projected"})
            p = projected.json()
            assert p["allowed"] is not any(b["over"] or b["projected_over"] for b in p["budgets"])
            assert c.post("/v1/events", json={"events": [e]}).status_code == 200
        last = c.get("/v1/budgets/check", params={"prompt_id": "z"}).json()
        assert last["allowed"] is False and last["budgets"][-1]["spent"] == 10
        for b in made:
            assert c.delete(f"/v1/budgets/{b}").status_code == 204
    live.ctx.budget_checks.refresh()


def test_bad_checks_are_4xx(live: LiveServer) -> None:
    key = live.key("flip", "read")
    with live.client(key) as c:
        r = c.get("/v1/budgets/check", params={"mode": "bogus"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "mode"
        r = c.get("/v1/budgets/check", params={"colour": "red"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "colour"
        r = c.get("/v1/budgets/check", params={"project": "someone-else"})
        assert r.status_code == 403
        assert c.get("/v1/budgets/check", params={"metadata.tier": "gold"}).status_code == 200
    with live.client(None) as c:
        assert c.get("/v1/budgets/check").status_code == 401


def test_refreshes_during_ingest_never_count_a_call_twice(live: LiveServer) -> None:
    """Refreshes from the store race the commits; spend never exceeds what was sent, and the
    first refresh after the last commit agrees with an independent sum."""
    key = live.key("race", "ingest,read,admin")
    with live.client(key) as c:
        r = c.post("/v1/budgets", json={"name": "all", "amount": 1e6, "metric": "requests"})
        assert r.status_code == 201, r.text
    checker = live.ctx.budget_checks
    checker.refresh()
    batches = [_events(100 + s, 400) for s in range(3)]
    sent = [e for b in batches for e in b]
    stop = threading.Event()
    seen: list[float] = []

    def refresh_and_check() -> None:
        with live.client(key) as c:
            while not stop.is_set():
                checker.refresh()
                [b] = c.get("/v1/budgets/check").json()["budgets"]
                seen.append(b["spent"])

    racer = threading.Thread(target=refresh_and_check)
    racer.start()
    senders = [threading.Thread(target=_ingest, args=(live, key, b, 20)) for b in batches]
    for t in senders:
        t.start()
    for t in senders:
        t.join()
    stop.set()
    racer.join()
    assert len(seen) > 3 and max(seen) <= len(sent)
    checker.refresh()
    with live.client(key) as c:
        [b] = c.get("/v1/budgets/check").json()["budgets"]
        assert b["spent"] == len(sent)
        assert c.delete(f"/v1/budgets/{r.json()['id']}").status_code == 204
    checker.refresh()
