"""`Writer.add_call_listener`: after each commit, the calls it newly stored (duplicates of stored
calls and repeats within the group left out), before the writes are answered."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from promptpulse.config import Settings
from promptpulse.ingest.writer import Writer
from promptpulse.model import CALL_SCHEMA
from promptpulse.store import open_store


def _calls(ids: list[str]) -> pa.Table:
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = [{"project": "p", "id": i, "timestamp": now, "model": "m", "status": "success",
             "latency_ms": 1.0, "input_tokens": 1, "output_tokens": 1, "cached_tokens": 0,
             "reasoning_tokens": 0, "cache_write_tokens": 0, "cache_hit": False, "retries": 0,
             "received_at": now} for i in ids]  # fmt: skip
    return pa.Table.from_pylist(rows, schema=CALL_SCHEMA)


def test_listeners_get_the_calls_newly_stored(tmp_path: Path) -> None:
    store = open_store(Settings(data_dir=tmp_path))
    writer = Writer(store)
    heard: list[list[str]] = []
    answered_after: list[int] = []
    writer.add_call_listener(lambda t: heard.append(t.column("id").to_pylist()))
    writer.start()
    try:
        first = writer.write_sync("events", _calls(["a", "b", "c"]))
        answered_after.append(len(heard))
        second = writer.write_sync("events", _calls(["b", "d", "d", "c"]))
        answered_after.append(len(heard))
    finally:
        writer.stop()
        store.close()
    assert (first.accepted, second.accepted, second.duplicates) == (3, 1, 3)
    assert heard == [["a", "b", "c"], ["d"]]
    assert answered_after == [1, 2]  # each write was answered after its listener ran
