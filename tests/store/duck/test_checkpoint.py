"""PROMPTPULSE_DUCKDB_CHECKPOINT_THRESHOLD reaches the DuckDB connection the store opens."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from promptpulse.config import Settings
from promptpulse.store import open_store
from promptpulse.store.duck import DuckStore


@pytest.mark.parametrize("threshold", ["64MB", "1GB"])
def test_the_checkpoint_threshold_setting_reaches_duckdb(tmp_path: Path, threshold: str) -> None:
    store = open_store(Settings(data_dir=tmp_path, duckdb_checkpoint_threshold=threshold))
    assert isinstance(store, DuckStore)
    try:
        query = "SELECT current_setting('checkpoint_threshold') AS v"
        got = store._records(query, [])[0]["v"]
    finally:
        store.close()
    bare = duckdb.connect()  # DuckDB's own wording of the same value
    bare.execute(f"SET checkpoint_threshold = '{threshold}'")
    row = bare.execute("SELECT current_setting('checkpoint_threshold')").fetchone()
    assert row is not None and got == row[0]
