"""Scheduled exports over a simulated week: every call in exactly one window file, late arrivals
(old timestamps) included, no gap and no overlap, restarts and repeated runs included."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from promptpulse.config import Settings
from promptpulse.exports.formats import sha256_of
from promptpulse.exports.service import STATE_FILE, ExportService
from promptpulse.store.duck import DuckStore
from tests.rollups.helpers import random_calls, write_direct

T0 = datetime(2025, 5, 5, tzinfo=UTC)  # a Monday


@pytest.mark.slow
def test_a_week_of_hourly_windows_covers_every_call_once(tmp_path: Path) -> None:
    out = tmp_path / "exports"
    settings = Settings(
        data_dir=tmp_path / "data", export_schedule="hourly", export_dir=out, export_grace_s=300
    )
    store = DuckStore(settings.duckdb_path)
    rng = np.random.default_rng(4)
    ids: list[str] = []
    try:
        now = T0
        clock = [now]
        service = ExportService(store, settings, lambda: clock[0])
        service.run_scheduled(now)  # the first run sets the schedule's start
        step = timedelta(minutes=37)  # runs that do not line up with windows
        while now < T0 + timedelta(days=7):
            # Calls arriving in the last step; a third of them are late (timestamps hours or
            # days old), a few arrive just before the run.
            n = int(rng.integers(0, 40))
            arrived = now + step * float(rng.uniform(0, 1))
            late = rng.random() < 0.33
            t_from = arrived - (timedelta(days=2) if late else timedelta(minutes=5))
            batch = random_calls(rng, n, t_from, arrived, "p", received=arrived)
            ids += batch.column("id").to_pylist()
            write_direct(store, batch)
            now += step
            if rng.random() < 0.1:  # a restart: a new service with the state on disk only
                service = ExportService(store, settings, lambda: clock[0])
            service.run_scheduled(now)
            if rng.random() < 0.05:
                service.run_scheduled(now)  # a repeated run writes nothing new
        service.run_scheduled(T0 + timedelta(days=8))
        files = sorted(out.glob("calls-*.parquet"))
        manifests = sorted(out.glob("calls-*.manifest.json"))
        assert len(files) == len(manifests) == 7 * 24 + 1 + 23  # window before the start too
        exported: list[str] = []
        windows = []
        for f, m in zip(files, manifests, strict=True):
            manifest = json.loads(m.read_text())
            assert manifest["files"][0]["name"] == f.name
            assert manifest["files"][0]["sha256"] == sha256_of(f)
            table = pq.read_table(f)
            assert table.num_rows == manifest["row_count"]
            exported += table.column("id").to_pylist()
            windows.append((manifest["window"]["from"], manifest["window"]["to"]))
        assert len(exported) == len(set(exported)), "a call exported twice"
        assert sorted(exported) == sorted(ids), "a call missing"
        assert all(a[1] == b[0] for a, b in itertools.pairwise(windows)), "a gap"
        assert (out / STATE_FILE).exists() and not list(out.glob("*.partial"))
    finally:
        store.close()
