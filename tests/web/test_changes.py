"""GET /v1/changes answers the moment a commit lands, so Live views need no blind polling."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from tests.conftest import LiveServer, iso


def test_long_poll_wakes_on_commit(live: LiveServer, project: str) -> None:
    key = live.key(project)
    with live.client(key) as client:
        now = client.get("/v1/changes", params={"after": -1}).json()["sequence"]
        assert client.get("/v1/changes", params={"after": now, "wait": 0.2}).json() == {
            "sequence": now
        }  # nothing new: answers with the same sequence after the wait

        def ingest_soon() -> None:
            time.sleep(0.5)
            with live.client(key) as other:
                event = {"timestamp": iso(datetime.now(UTC)), "model": "m", "latency_ms": 1}
                assert other.post("/v1/events", json={"events": [event]}).status_code == 200

        worker = threading.Thread(target=ingest_soon)
        worker.start()
        later = client.get("/v1/changes", params={"after": now, "wait": 9}).json()["sequence"]
        worker.join()
        assert later > now
        # Every answer says the newest commit it holds (Live tabs add only newer deltas).
        answer = client.get("/v1/calls", params={"limit": 1})
        assert int(answer.headers["x-promptpulse-sequence"]) == later


def test_changes_needs_a_read_key(live: LiveServer, project: str) -> None:
    with live.client(None) as client:
        assert client.get("/v1/changes").status_code == 401
    with live.client(live.key(project, "ingest")) as client:
        assert client.get("/v1/changes").status_code == 403
    with live.client(live.key(project, "read")) as client:
        assert client.get("/v1/changes", params={"wait": 100}).status_code == 422
