"""Idempotency: the same (project, id) is stored once, whatever the path it comes back by."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from promptpulse.ingest import dedupe
from promptpulse.ingest.dedupe import SeenKeys
from promptpulse.model import Scope
from tests.conftest import LiveServer, iso, start_server, stop_server

T = "2025-06-02T12:00:00Z"
EVERYTHING = Scope(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


def event(ident: str | None, latency: float = 1.0) -> dict:
    e = {"timestamp": T, "model": "m", "latency_ms": latency}
    if ident is not None:
        e["id"] = ident
    return e


def stored_ids(live: LiveServer, project: str) -> list[str]:
    rows = live.ctx.store.calls(EVERYTHING.with_filter("project", [project]), ["id"], 1_000_000)
    return sorted(r["id"] for r in rows)


def test_same_id_twice_in_one_batch(live: LiveServer, project: str) -> None:
    with live.client(live.key(project)) as c:
        r = c.post("/v1/events", json={"events": [event("a", 1), event("b"), event("a", 2)]})
    assert r.status_code == 200
    assert r.json() == {"accepted": 2, "duplicates": 1, "rejected": []}
    assert stored_ids(live, project) == ["a", "b"]
    rows = live.ctx.store.calls(
        EVERYTHING.with_filter("project", [project]).with_filter("model", ["m"]),
        ["id", "latency_ms"],
        10,
    )
    assert {r["id"]: r["latency_ms"] for r in rows}["a"] == 1  # the first one wins


def test_same_id_across_batches(live: LiveServer, project: str) -> None:
    with live.client(live.key(project)) as c:
        assert (
            c.post("/v1/events", json={"events": [event(f"x{i}") for i in range(10)]}).json()[
                "accepted"
            ]
            == 10
        )
        r = c.post("/v1/events", json={"events": [event(f"x{i}") for i in range(5, 15)]})
    assert r.json() == {"accepted": 5, "duplicates": 5, "rejected": []}
    assert stored_ids(live, project) == sorted(f"x{i}" for i in range(15))


def test_same_ids_from_concurrent_requests(live: LiveServer, project: str) -> None:
    ids = [f"c{i}" for i in range(300)]
    key = live.key(project)
    results: list[dict] = []
    lock = threading.Lock()
    rng = np.random.default_rng(3)
    orders = [rng.permutation(ids).tolist() for _ in range(8)]

    def send(order: list[str]) -> None:
        with live.client(key) as c:
            for i in range(0, len(order), 50):
                body = {"events": [event(x) for x in order[i : i + 50]]}
                r = c.post("/v1/events", json=body)
                while r.status_code == 429:  # backpressure on a busy machine: retry, as SDKs do
                    time.sleep(min(float(r.headers["Retry-After"]), 2.0))
                    r = c.post("/v1/events", json=body)
                assert r.status_code == 200, r.text
                with lock:
                    results.append(r.json())

    threads = [threading.Thread(target=send, args=(o,)) for o in orders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 * 6
    assert sum(r["accepted"] for r in results) == 300
    assert sum(r["duplicates"] for r in results) == 7 * 300
    assert stored_ids(live, project) == sorted(ids)


def test_same_id_in_two_projects_is_stored_in_each(live: LiveServer, project: str) -> None:
    other = project + "-b"
    admin = live.key(None, "admin")
    with live.client(admin) as c:
        r = c.post(
            "/v1/events",
            json={
                "events": [
                    {**event("shared"), "project": project},
                    {**event("shared"), "project": other},
                ]
            },
        )
        assert r.json() == {"accepted": 2, "duplicates": 0, "rejected": []}
    with live.client(live.key(other)) as c:
        assert c.post("/v1/events", json={"events": [event("shared")]}).json()["duplicates"] == 1
    assert stored_ids(live, project) == ["shared"]
    assert stored_ids(live, other) == ["shared"]


def test_server_makes_ids_when_absent(live: LiveServer, project: str) -> None:
    with live.client(live.key(project)) as c:
        for _ in range(2):
            r = c.post("/v1/events", json={"events": [event(None) for _ in range(5)]})
            assert r.json() == {"accepted": 5, "duplicates": 0, "rejected": []}
    ids = stored_ids(live, project)
    assert len(ids) == len(set(ids)) == 10
    assert all(ids)


@pytest.mark.slow
def test_dedupe_survives_a_restart(tmp_path: Path) -> None:
    # Recent calls: start-up applies raw retention (90 days by default) to older ones.
    recent = iso(datetime.now(UTC) - timedelta(hours=1))

    def event(ident: str) -> dict:
        return {"id": ident, "timestamp": recent, "model": "m", "latency_ms": 1}

    server, thread, live = start_server(tmp_path)
    key = live.key("restart")
    try:
        with live.client(key) as c:
            r = c.post("/v1/events", json={"events": [event(f"r{i}") for i in range(20)]})
            assert r.json()["accepted"] == 20
    finally:
        stop_server(server, thread)
    server, thread, live = start_server(tmp_path)
    try:
        with live.client(key) as c:
            r = c.post("/v1/events", json={"events": [event(f"r{i}") for i in range(10, 30)]})
            assert r.json() == {"accepted": 10, "duplicates": 10, "rejected": []}
        assert stored_ids(live, "restart") == sorted(f"r{i}" for i in range(30))
    finally:
        stop_server(server, thread)
        live.meta.close()


# ---------------------------------------------------------------- SeenKeys against a set


def _random_hashes(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, np.iinfo(np.uint64).max, size=n, dtype=np.uint64, endpoint=True)


@pytest.mark.parametrize("seed", [1, 2])
def test_seen_keys_is_a_set(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Against np.isin over every hash added so far (a different algorithm: hash set/sort)."""
    monkeypatch.setattr(dedupe, "_MERGE_AT", 3000)  # the same rule, at a size a test can afford
    rng = np.random.default_rng(seed)
    extremes = np.array([0, 1, np.iinfo(np.uint64).max], dtype=np.uint64)
    initial = np.concatenate([_random_hashes(rng, 1000), extremes[:1]])
    seen = SeenKeys(initial)
    truth = initial.copy()
    # Many small adds (the > 16 parts merge) and some big ones (the size merge).
    sizes = [int(rng.integers(0, 200)) for _ in range(40)] + [dedupe._MERGE_AT] * 3
    rng.shuffle(sizes)
    merges = 0
    for size in sizes:
        added = _random_hashes(rng, size)
        if size and rng.random() < 0.3:  # repeats of hashes already there
            added[: size // 3] = rng.choice(truth, size // 3)
        probe = np.concatenate(
            [added[:500], _random_hashes(rng, 50), extremes, rng.choice(truth, 20)]
        )
        assert (seen.maybe_seen(probe) == np.isin(probe, truth)).all()
        seen.add(added)
        merges += bool(size) and not seen._recent
        truth = np.concatenate([truth, added])
        assert (seen.maybe_seen(probe) == np.isin(probe, truth)).all()
    assert merges >= 3  # both merge rules ran
    assert len(seen) == len(truth)


def test_seen_keys_empty() -> None:
    seen = SeenKeys()
    probe = np.array([0, 5, np.iinfo(np.uint64).max], dtype=np.uint64)
    assert not seen.maybe_seen(probe).any()
    seen.add(np.array([], dtype=np.uint64))
    assert len(seen) == 0
    seen.add(np.array([5], dtype=np.uint64))
    assert seen.maybe_seen(probe).tolist() == [False, True, False]
