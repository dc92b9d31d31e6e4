"""Live streams among replicas: the replica that committed pushes the delta to its own tabs;
a tab on another replica hears of the commit through PostgreSQL as "changed" (NOTIFY carries no
delta) and re-queries."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from promptpulse.meta import MetaDB, Scope, create_key
from tests.conftest import iso
from tests.harness.replicas import Replica


def _first_event(replica: Replica, key: str, wanted: set[str], box: dict[str, object]) -> None:
    """Open a stream on `replica`; put its first hello and first event named in `wanted` in
    `box`. A stream the server ends (`bye`, after 8 s) is opened again, as a tab would."""
    with replica.client(key) as c:
        while True:
            with c.stream("GET", "/v1/changes/stream") as response:
                name = ""
                for line in response.iter_lines():
                    if line.startswith("event: "):
                        name = line[len("event: ") :]
                    elif line.startswith("data: ") and name == "hello" and "hello" not in box:
                        box["hello"] = json.loads(line[len("data: ") :])
                        box["open"].set()  # type: ignore[attr-defined]
                    elif line.startswith("data: ") and name in wanted:
                        box[name] = json.loads(line[len("data: ") :])
                        return


def test_the_other_replica_tells_its_tabs_to_requery(
    replicas: Callable[..., list[Replica]], shared_meta: MetaDB
) -> None:
    key = create_key(shared_meta, "live-push", frozenset({Scope.INGEST, Scope.READ}))[1]
    a, b = replicas(2, alerts_interval_s=0)
    on_a: dict[str, object] = {"open": threading.Event()}
    on_b: dict[str, object] = {"open": threading.Event()}
    readers = [
        threading.Thread(target=_first_event, args=(a, key, {"delta"}, on_a)),
        threading.Thread(target=_first_event, args=(b, key, {"delta", "changed"}, on_b)),
    ]
    for reader in readers:
        reader.start()
    for box in (on_a, on_b):
        assert box["open"].wait(30)  # type: ignore[attr-defined]
    event = {"timestamp": iso(datetime.now(UTC)), "model": "m", "latency_ms": 3}
    with a.client(key) as c:
        assert c.post("/v1/events", json={"events": [event]}).status_code == 200
    for reader in readers:
        reader.join(timeout=60)
    assert on_a["delta"]["requests"] == 1  # type: ignore[index]
    assert "delta" not in on_b
    with b.client(key) as c:  # numbered later, in PostgreSQL: no answer claims a number
        assert "x-promptpulse-sequence" not in c.get("/v1/calls").headers
    assert on_b["changed"]["sequence"] > on_b["hello"]["sequence"]  # type: ignore[index]
