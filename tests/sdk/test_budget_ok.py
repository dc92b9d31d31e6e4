"""`Client.budget_ok` against a real server: the server's answer, cached for the TTL, and when
the server cannot answer (down, hanging, no key) open by default and closed when asked."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from promptpulse.sdk import Client
from tests.conftest import LiveServer, free_port, iso, start_server, stop_server


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server, thread, info = start_server(tmp_path_factory.mktemp("sdkbudget"), alerts_interval_s=0)
    yield info
    stop_server(server, thread)


def _until(predicate, limit_s: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_budget_ok_follows_the_server_and_caches(live: LiveServer) -> None:
    key = live.key("sdkb", "ingest,read,admin")
    with live.client(key) as c:
        r = c.post("/v1/budgets", json={"name": "three", "amount": 3, "metric": "requests",
                                        "filters": {"prompt_id": "gated"}})  # fmt: skip
        assert r.status_code == 201, r.text
    live.ctx.budget_checks.refresh()
    pp = Client(live.url, key, budget_ttl=0.3, environment="prod")
    try:
        assert pp.budget_ok(prompt_id="gated", user_id="u1") is True
        asked = pp._budgets.requests
        assert pp.budget_ok(prompt_id="gated", user_id="u1") is True  # from the cache
        assert pp._budgets.requests == asked
        now = iso(datetime.now(UTC))
        events = [{"id": f"g{i}", "timestamp": now, "model": "m", "latency_ms": 1,
                   "prompt_id": "gated"} for i in range(3)]  # fmt: skip
        with live.client(key) as c:
            assert c.post("/v1/events", json={"events": events}).status_code == 200
        # Spent now; the cached True lasts at most the TTL, then the server says no.
        assert _until(lambda: pp.budget_ok(prompt_id="gated", user_id="u1") is False)
        assert pp._budgets.requests > asked
        assert pp.budget_ok(prompt_id="other") is True  # no budget of that prompt
        assert pp.budget_ok(prompt_id="gated", fail_closed=True) is False
    finally:
        pp.close()


def test_fails_open_unless_asked_to_fail_closed(live: LiveServer) -> None:
    down = Client(f"http://127.0.0.1:{free_port()}", "pp_nokey", flush_interval=60)
    hanging = socket.socket()
    hanging.bind(("127.0.0.1", 0))
    hanging.listen(8)  # accepts connections, never answers
    slow = Client(f"http://127.0.0.1:{hanging.getsockname()[1]}", "pp_x", budget_timeout=0.1,
                  flush_interval=60)  # fmt: skip
    nokey = Client(live.url, None, enabled=False)
    wrong_key = Client(live.url, "pp_wrong", flush_interval=60)
    try:
        for client in (down, slow, nokey, wrong_key):
            assert client.budget_ok(prompt_id="p") is True
            assert client.budget_ok(prompt_id="q", fail_closed=True) is False
        asked = down._budgets.requests
        assert down.budget_ok(prompt_id="p") is True  # the failure is cached briefly
        assert down._budgets.requests == asked
        assert nokey._budgets.requests == 0
    finally:
        for client in (down, slow, wrong_key):
            client.close(timeout=0.1)
        hanging.close()


def test_concurrent_callers_share_the_gate(live: LiveServer) -> None:
    key = live.key("sdkb2", "read")
    pp = Client(live.url, key, budget_ttl=5)
    answers: list[bool] = []

    def ask() -> None:
        for _ in range(20):
            answers.append(pp.budget_ok(prompt_id="free"))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [True] * 80
    assert pp._budgets.requests <= 4  # one miss per thread at most, then the cache
    pp.close()


def test_the_async_client_and_the_module_function(live: LiveServer) -> None:
    import asyncio

    from promptpulse.sdk import AsyncClient

    key = live.key("sdkb3", "read")

    async def ask() -> tuple[bool, bool]:
        pp = AsyncClient(live.url, key)
        try:
            return await pp.budget_ok(prompt_id="x"), await pp.budget_ok(
                prompt_id="x", fail_closed=True
            )
        finally:
            await pp.aclose()

    assert asyncio.run(ask()) == (True, True)  # the server answers: no budget, allowed
