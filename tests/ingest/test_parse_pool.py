"""Parse worker processes: the same prepared batches and the same refusals as parsing in a
thread, on random bodies; a worker killed or stuck costs one 503 (nothing stored) and is
replaced; the workers import only what parsing needs."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from promptpulse.errors import BadRequest, Invalid, ParserUnavailable, TooLarge
from promptpulse.ingest.parse_pool import ParsePool
from promptpulse.ingest.pipeline import prepare_events
from promptpulse.model import PriceEntry, PriceOverride, PriceTable
from tests.conftest import LiveServer, in_process_app, iso

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
DAY = datetime(2026, 2, 28)
PRICES = PriceTable(
    {("p", "house-model"): [(None, None, PriceEntry(3, "p", PriceOverride("house-model", 2, 8)))]}
)


@pytest.fixture(scope="module")
def pool() -> Iterator[ParsePool]:
    made = ParsePool(2)
    yield made
    made.close()


def random_event(rng: random.Random, i: int) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": f"e{i}",
        "timestamp": (NOW - timedelta(seconds=rng.randrange(86_400 * 30))).isoformat(),
        "model": rng.choice(["gpt-4o-mini", "claude-3-5-haiku-latest", "house-model", "unknown"]),
        "latency_ms": rng.uniform(1, 5000),
        "input_tokens": rng.randrange(0, 5000),
        "output_tokens": rng.randrange(0, 800),
        "project": "p",
        "status": rng.choice(["success", "success", "error"]),
        "user_id": rng.choice([None, "ü-1", "u2"]),
        "metadata": rng.choice([None, {"tier": rng.choice(["free", "pro"])}]),
    }
    if rng.random() < 0.1:  # a rejected item: a negative latency, or a missing model
        if rng.random() < 0.5:
            event["latency_ms"] = -1
        else:
            del event["model"]
    return {k: v for k, v in event.items() if v is not None}


def both(pool: ParsePool, body: bytes, **kwargs: Any) -> tuple[Any, Any]:
    args = {"key_project": None, "overrides": PRICES.lookup, "now": NOW, "max_events": 10_000}
    args.update(kwargs)
    return pool.prepare_events(body, **args), prepare_events(body, **args)


@pytest.mark.parametrize("seed", range(4))
def test_a_worker_prepares_what_a_thread_does(pool: ParsePool, seed: int) -> None:
    rng = random.Random(seed)
    body = orjson.dumps({"events": [random_event(rng, i) for i in range(rng.randrange(50, 600))]})
    from_worker, in_thread = both(pool, body)
    assert from_worker.table.equals(in_thread.table)
    assert from_worker.rejected == in_thread.rejected
    assert from_worker.table.num_rows > 0
    # the project's own price reached the worker
    pairs = zip(
        from_worker.table["model"].to_pylist(),
        from_worker.table["price_ref"].to_pylist(),
        strict=True,
    )
    assert {ref for model, ref in pairs if model == "house-model"} == {"book:3"}


@pytest.mark.parametrize(
    ("body", "kwargs", "error"),
    [
        (b"{not json", {}, BadRequest),
        (b'{"events": 5}', {}, Invalid),
        (orjson.dumps({"events": [{"id": "x"}] * 3}), {"max_events": 2}, TooLarge),
    ],
)
def test_a_worker_refuses_what_a_thread_refuses(
    pool: ParsePool, body: bytes, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error) as from_worker:
        both(pool, body, **kwargs)
    with pytest.raises(error) as in_thread:
        prepare_events(
            body, key_project=None, overrides=PRICES.lookup, now=NOW,
            **{"max_events": 10_000, **kwargs},
        )  # fmt: skip
    assert str(from_worker.value) == str(in_thread.value)
    assert from_worker.value.errors == in_thread.value.errors  # type: ignore[attr-defined]


ONE = orjson.dumps({"events": [{"timestamp": NOW.isoformat(), "model": "m", "latency_ms": 1}]})
HOUR_AGO = datetime.now(UTC) - timedelta(hours=1)  # inside the raw retention of a live server
ONE_EVENT = {"timestamp": iso(HOUR_AGO), "model": "m", "latency_ms": 1}
RANGE = {"from": iso(HOUR_AGO - timedelta(hours=1)), "to": iso(HOUR_AGO + timedelta(hours=2))}


def prepare(pool: ParsePool) -> int:
    return pool.prepare_events(
        ONE, key_project="p", overrides=PRICES.lookup, now=NOW, max_events=10
    ).count


def test_a_killed_worker_costs_one_503_and_is_replaced() -> None:
    pool = ParsePool(1)
    try:
        assert prepare(pool) == 1
        (first,) = pool.worker_pids()
        os.kill(first, signal.SIGKILL)
        with pytest.raises(ParserUnavailable) as refused:
            prepare(pool)
        assert refused.value.retry_after_s >= 1
        assert prepare(pool) == 1
        (second,) = pool.worker_pids()
        assert second != first
    finally:
        pool.close()


def test_a_stuck_worker_is_killed_after_the_answer_timeout() -> None:
    pool = ParsePool(1, answer_timeout_s=0.5)
    try:
        assert prepare(pool) == 1
        (stuck,) = pool.worker_pids()
        os.kill(stuck, signal.SIGSTOP)
        with pytest.raises(ParserUnavailable):
            prepare(pool)
        with pytest.raises(ProcessLookupError):  # killed and reaped, not left stopped
            os.kill(stuck, 0)
        assert prepare(pool) == 1
    finally:
        pool.close()


def test_workers_on_descriptors_numbered_past_1024_answer_each_body() -> None:
    """A server holding many connections (or running chdb, which keeps three files open per
    thread: the suite hung on this) gives its workers' pipes high numbers. select() refused
    them, which left an answer unread, taken for the next body's or hanging the pool."""
    filler = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        pool = ParsePool(1)
        try:
            for n in (3, 7, 2):  # each answer is its own body's, in order
                body = orjson.dumps(
                    {"events": [random_event(random.Random(n), i) for i in range(n)]}
                )
                got, expected = both(pool, body)
                assert got.table.equals(expected.table)
                assert got.table.num_rows + len(got.rejected) == n
        finally:
            pool.close()
    finally:
        for fd in filler:
            os.close(fd)


def test_close_stops_every_worker() -> None:
    pool = ParsePool(2)
    assert prepare(pool) == 1
    pids = pool.worker_pids()
    pool.close()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    with pytest.raises(ParserUnavailable):
        prepare(pool)


def test_a_worker_imports_only_what_parsing_needs() -> None:
    code = (
        "import sys, promptpulse.ingest.parse_worker;"
        "print(' '.join(m for m in sys.modules if m.startswith(('promptpulse', 'duckdb', "
        "'sqlalchemy', 'fastapi', 'starlette', 'chdb', 'clickhouse_connect'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.split()
    assert "promptpulse.ingest.pipeline" in loaded
    heavy = [m for m in loaded if not m.startswith(("promptpulse.ingest", "promptpulse.model"))]
    assert heavy == [m for m in heavy if m in ("promptpulse", "promptpulse.errors")], heavy


def test_over_http_a_killed_worker_is_a_503_with_retry_after_and_nothing_stored(
    live: LiveServer, project: str
) -> None:
    def batch(tag: str) -> dict[str, Any]:
        return {"events": [{"id": f"{tag}-{i}", **ONE_EVENT} for i in range(10)]}

    pool = live.ctx.parse_pool
    assert pool is not None and len(pool.worker_pids()) == pool.size  # started with the server
    with live.client(live.key(project)) as c:
        assert c.post("/v1/events", json=batch("before")).status_code == 200
        for pid in pool.worker_pids():
            os.kill(pid, signal.SIGKILL)
        answers = [c.post("/v1/events", json=batch(f"after-{n}")) for n in range(pool.size + 1)]
        statuses = [r.status_code for r in answers]
        # each dead worker is found by one batch, then replaced: the last batch is stored
        assert statuses[-1] == 200 and set(statuses[:-1]) <= {503, 200}, statuses
        assert 503 in statuses
        for refused in (r for r in answers if r.status_code == 503):
            assert int(refused.headers["retry-after"]) >= 1
            assert refused.headers["content-type"] == "application/problem+json"
        stored = 10 * (1 + statuses.count(200))
        overview = c.get("/v1/metrics/overview", params=RANGE).json()
        assert overview["requests"] == stored


def test_every_worker_gets_a_parse_slot(tmp_path: Path) -> None:
    """With more workers than the default two slots, each worker can be busy at once."""
    for running in in_process_app(tmp_path, parse_workers=3):
        assert running.ctx.parse_pool.size == 3
        assert len(running.ctx.parse_pool.worker_pids()) == 3
        assert running.ctx.parse_slots._value == 3
