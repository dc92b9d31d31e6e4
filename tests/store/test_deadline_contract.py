"""Every backend honours a request's deadline (store.Deadline, issue 17 item 10): a query
started after the deadline, or in a cancelled request, fails with StoreUnavailable at once;
outside a request nothing changes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from promptpulse.errors import StoreUnavailable
from promptpulse.model import CATALOG, Scope
from promptpulse.store import Deadline, Store, with_deadline

SCOPE = Scope(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))
METRICS = [CATALOG["requests"], CATALOG["latency_p95_ms"]]


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_query_after_the_deadline_fails_at_once(store: Store) -> None:
    clock = Clock()
    request = Deadline(5.0, clock)
    with with_deadline(request):
        assert store.aggregate(SCOPE, METRICS)  # in time
        clock.now = 6.0
        with pytest.raises(StoreUnavailable, match="request took longer than 5 s"):
            store.aggregate(SCOPE, METRICS)
    assert store.aggregate(SCOPE, METRICS)


def test_a_cancelled_request_runs_no_more_queries(store: Store) -> None:
    request = Deadline(60.0)
    request.cancel("the client went away")
    with with_deadline(request), pytest.raises(StoreUnavailable, match="went away"):
        store.aggregate(SCOPE, METRICS)
