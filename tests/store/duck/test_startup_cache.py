"""The writer's start-up scan of every stored key leaves nothing in DuckDB's cache: those blocks
serve no query, and DuckDB would hold them until its memory limit forced them out (61 MB at
10 M calls). The configured limit is back in force afterwards."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow.compute as pc

from promptpulse.store.duck import DuckStore
from tests.store.conftest import make_calls


def cached_mb(store: DuckStore) -> float:
    sql = "SELECT sum(memory_usage_bytes) AS b FROM duckdb_memory() WHERE tag = 'BASE_TABLE'"
    return float(store._records(sql, [])[0]["b"] or 0) / 2**20


def test_the_start_up_key_scan_leaves_the_cache_empty(tmp_path: Path) -> None:
    calls = make_calls(np.random.default_rng(5), 20_000, id_prefix="startup")
    rows = 20 * calls.num_rows  # the same calls under 20 id prefixes: 400,000 keys
    store = DuckStore(tmp_path / "events.duckdb", memory_limit="300MB")
    try:
        writer = store.writer()
        writer.begin()
        for copy in range(20):
            ids = pc.binary_join_element_wise(f"copy{copy}-", calls["id"], "")
            writer.insert_events(calls.set_column(calls.schema.get_field_index("id"), "id", ids))
        writer.commit()
        with store._maintenance, store._con.cursor() as cur:  # 400,000 calls: the sketches
            store._sketch_lag.catch_up_alone(cur)  # catch up first (they read the calls too)
        store.execute("CHECKPOINT")  # the rows on disk, read back through the cache
        store.execute("SELECT count(DISTINCT hash(project, id)) FROM events")
        assert cached_mb(store) > 1  # reading the keys fills the cache...
        hashes = store.all_key_hashes()
        assert len(hashes) == rows and len(np.unique(hashes)) == rows
        assert cached_mb(store) < 1  # ...and the start-up scan empties it again
        limit = store._records("SELECT current_setting('memory_limit') AS v", [])[0]["v"]
        bare = duckdb.connect()
        bare.execute("SET memory_limit = '300MB'")
        assert limit == bare.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    finally:
        store.close()
