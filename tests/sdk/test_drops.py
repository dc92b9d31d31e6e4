"""The SDK never re-sends what the server refused, and says what it dropped: a counter, a log
line and the `on_drop` callback. One bad value no longer costs the batch (issue 17, item 2)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from promptpulse.sdk import Client
from tests.conftest import LiveServer
from tests.sdk.helpers import stored
from tests.sdk.test_client import Scripted


@pytest.fixture
def scripted(request: pytest.FixtureRequest) -> Iterator[Scripted]:
    server = Scripted(request.param)
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def test_one_unstorable_value_costs_only_its_own_event(
    live: LiveServer, project: str, caplog: pytest.LogCaptureFixture
) -> None:
    dropped: list[tuple[str, list[dict[str, Any]], str]] = []
    pp = Client(
        live.url,
        live.key(project),
        batch_size=500,
        flush_interval=60,
        on_drop=lambda kind, items, why: dropped.append((kind, items, why)),
    )
    for i in range(100):
        pp.record(model="m", latency_ms=i)
    bad_id = pp.record(model="m", latency_ms=1, metadata={"n": 10**23})
    for i in range(100):
        pp.record(model="m", latency_ms=i)
    with caplog.at_level(logging.WARNING, "promptpulse.sdk"):
        assert pp.flush(timeout=30)
    pp.close()
    assert (pp.stats.accepted, pp.stats.rejected, pp.stats.retries) == (200, 1, 0)
    assert len(stored(live, project)) == 200
    ((kind, items, why),) = dropped
    assert kind == "events" and [item["id"] for item in items] == [bad_id]
    assert "metadata" in why
    assert "rejected 1 of 201 events" in caplog.text


@pytest.mark.parametrize("scripted", [[(422, {}), (403, {})]], indirect=True)
def test_a_refused_batch_is_dropped_once_and_reported(scripted: Scripted) -> None:
    dropped: list[tuple[str, int, str]] = []
    pp = Client(
        scripted.url,
        "k",
        flush_interval=0.01,
        batch_size=1,
        on_drop=lambda kind, items, why: dropped.append((kind, len(items), why)),
    )
    pp.record(model="m", latency_ms=1)
    pp.record(model="m", latency_ms=2)
    assert pp.flush(timeout=30)
    pp.close()
    assert (pp.stats.failed, pp.stats.retries, len(scripted.bodies)) == (2, 0, 2)
    assert [(kind, n, why.split(":")[0]) for kind, n, why in dropped] == [
        ("events", 1, "HTTP 422"),
        ("events", 1, "HTTP 403"),
    ]


@pytest.mark.parametrize("scripted", [[(500, {})] * 3 + [(500, {})] * 3], indirect=True)
def test_a_batch_failing_with_500_is_split_so_the_good_half_lands(scripted: Scripted) -> None:
    """Three 500s for the pair: split; the first half keeps failing (given up after three), the
    second half lands."""
    dropped: list[int] = []
    pp = Client(
        scripted.url,
        "k",
        flush_interval=60,
        batch_size=2,
        backoff_base=0.001,
        on_drop=lambda kind, items, why: dropped.append(len(items)),
    )
    pp.record(model="m", latency_ms=1)
    pp.record(model="m", latency_ms=2)
    assert pp.flush(timeout=30)
    pp.close()
    assert [len(b) for b in scripted.ids()] == [2, 2, 2, 1, 1, 1, 1]
    assert (pp.stats.accepted, pp.stats.failed, dropped) == (1, 1, [1])


def test_a_failing_callback_never_breaks_the_sender(live: LiveServer, project: str) -> None:
    def explode(kind: str, items: list[dict[str, Any]], why: str) -> None:
        raise RuntimeError("the app's bug")

    with Client(live.url, live.key(project), flush_interval=0.01, on_drop=explode) as pp:
        pp.record(model="m", latency_ms=-1)
        assert pp.flush(timeout=30)
        pp.record(model="m", latency_ms=1)
        assert pp.flush(timeout=30)
        assert (pp.stats.accepted, pp.stats.rejected) == (1, 1)
