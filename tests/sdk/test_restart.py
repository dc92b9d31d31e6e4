"""Stop the server while the SDK is sending, start it again on the same data dir and port:
every event lands, none twice."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import uvicorn

from promptpulse.app import create_app
from promptpulse.config import Settings
from promptpulse.meta import MetaDB, Scope, create_key
from promptpulse.sdk import Client
from tests.conftest import free_port
from tests.sdk.helpers import project_scope

TOTAL = 900


def _serve(data_dir: Path, port: int) -> tuple[uvicorn.Server, threading.Thread, object]:
    # conftest.start_server always picks a new port; the SDK needs the same address back.
    app = create_app(Settings(data_dir=data_dir, port=port))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    return server, thread, app


def _stop(server: uvicorn.Server, thread: threading.Thread) -> None:
    server.should_exit = True
    thread.join(timeout=30)
    assert not thread.is_alive()


def test_no_event_lost_or_doubled_across_a_restart(tmp_path: Path) -> None:
    port = free_port()
    server, thread, _ = _serve(tmp_path, port)
    meta = MetaDB(Settings(data_dir=tmp_path).metadata_db_url)
    key = create_key(meta, "restart", frozenset({Scope.INGEST, Scope.READ}))[1]
    meta.close()
    pp = Client(f"http://127.0.0.1:{port}", key, batch_size=25, flush_interval=0.01,
                backoff_base=0.02, max_backoff=0.2, timeout=5)  # fmt: skip
    ids: list[str] = []
    sending = threading.Event()
    done = threading.Event()

    def app_thread() -> None:  # the application keeps recording through the outage
        for i in range(TOTAL):
            ids.append(pp.record(model="gpt-4o-mini", latency_ms=float(i), prompt_id="r"))
            if i == 100:
                sending.set()
            time.sleep(0.0005)
        done.set()

    producer = threading.Thread(target=app_thread)
    producer.start()
    assert sending.wait(30)
    _stop(server, thread)  # mid-stream: batches in flight, more queued
    outage_started = pp.stats.retries
    while pp.stats.retries < outage_started + 3:  # the SDK saw the outage and is retrying
        time.sleep(0.01)
    server, thread, app = _serve(tmp_path, port)
    producer.join(60)
    assert done.is_set()
    assert pp.flush(timeout=60)
    stats = pp.stats
    pp.close()
    try:
        rows = app.state.ctx.store.calls(project_scope("restart"), ["id"], 10 * TOTAL)  # type: ignore[attr-defined]
    finally:
        _stop(server, thread)
    stored_ids = [r["id"] for r in rows]
    assert len(stored_ids) == TOTAL  # none twice
    assert set(stored_ids) == set(ids)  # none lost
    assert stats.dropped == 0 and stats.failed == 0
    assert stats.accepted + stats.duplicates == TOTAL
    assert stats.retries >= 3
