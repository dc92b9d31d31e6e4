"""PROMPTPULSE_DUCKDB_CHECKPOINT_THRESHOLD: the store's checkpointer checkpoints in the
background once the WAL passes it (no commit of the writer does), with DuckDB's own threshold
kept as a backstop at four times it; nothing written is lost."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import orjson
import pytest

from promptpulse.config import Settings, size_bytes
from promptpulse.ingest.pipeline import prepare_events
from promptpulse.store import open_store
from promptpulse.store.duck import DuckStore


def duckdb_reads(size: str) -> str:
    """DuckDB's own wording of a checkpoint_threshold."""
    bare = duckdb.connect()
    bare.execute(f"SET checkpoint_threshold = '{size}'")
    row = bare.execute("SELECT current_setting('checkpoint_threshold')").fetchone()
    assert row is not None
    return str(row[0])


@pytest.mark.parametrize("threshold", ["64MB", "1GB", "100MiB"])
def test_the_threshold_reaches_the_checkpointer_and_duckdb_keeps_a_backstop(
    tmp_path: Path, threshold: str
) -> None:
    store = open_store(Settings(data_dir=tmp_path, duckdb_checkpoint_threshold=threshold))
    assert isinstance(store, DuckStore)
    try:
        query = "SELECT current_setting('checkpoint_threshold') AS v"
        got = store._records(query, [])[0]["v"]
        watched = store.checkpointer._threshold
    finally:
        store.close()
    assert duckdb_reads(f"{watched}B") == duckdb_reads(threshold)  # the same size as DuckDB's
    assert got == duckdb_reads(f"{4 * watched}B")


@pytest.mark.parametrize("text", ["", "MB", "12 parsecs", "-5MB", "1e3MB"])
def test_a_size_duckdb_would_not_read_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a size"):
        size_bytes(text)
    with pytest.raises(ValueError, match="duckdb_checkpoint_threshold"):
        Settings(duckdb_checkpoint_threshold=text)


def calls(n: int) -> bytes:
    start = datetime.now(UTC) - timedelta(hours=2)
    events = [
        {"id": f"c{i}", "timestamp": (start + timedelta(seconds=i)).isoformat(),
         "model": "gpt-4o-mini", "latency_ms": 100 + i % 700, "user_id": f"u{i % 97}",
         "prompt_id": f"p{i % 13}", "input_tokens": i % 900, "output_tokens": i % 200}
        for i in range(n)
    ]  # fmt: skip
    return orjson.dumps({"events": events})


def test_the_wal_is_checkpointed_in_the_background_not_by_a_commit(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, duckdb_checkpoint_threshold="1MB")
    store = open_store(settings)
    assert isinstance(store, DuckStore)
    wal = Path(f"{settings.duckdb_path}.wal")
    table = prepare_events(
        calls(6000), key_project="p", overrides=lambda *_: None, now=datetime.now(UTC),
        max_events=10_000,
    ).table  # fmt: skip
    try:
        writer = store.writer()
        writer.begin()
        writer.insert_events(table)
        writer.commit()  # past 1 MB of WAL, under the 4 MB backstop: the commit does not checkpoint
        deadline = time.monotonic() + 60
        while store.checkpointer.checkpoints == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert store.checkpointer.checkpoints >= 1
        assert not wal.exists() or wal.stat().st_size <= 1_000_000
    finally:
        store.close()
    reopened = open_store(settings)
    try:
        assert reopened._records("SELECT count(*) AS n FROM events", [])[0]["n"] == 6000
    finally:
        reopened.close()
