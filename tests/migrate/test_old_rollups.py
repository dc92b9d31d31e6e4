"""`promptpulse migrate` from a data directory whose raw calls before a horizon were deleted by
retention while their rollups remain: the rollups come over too, so a long range answered from
rollups on the target says what the source says, and what the calls first written said
(counted here with numpy, independently of both stores)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from promptpulse.app import create_app
from promptpulse.config import Settings
from promptpulse.meta import MetaDB, Scope, create_key
from promptpulse.model import CATALOG, Dimension
from promptpulse.model import Scope as Range
from promptpulse.store import open_store
from tests.migrate.test_migrate import _migrate
from tests.store.conftest import END, T0, make_calls, naive, write

pytest.importorskip("chdb")
CUT = T0 + timedelta(days=1, hours=10, minutes=17)  # mid-day: its hour and day are cut through
FIGURES = [CATALOG[m] for m in ("requests", "errors", "cost_usd", "input_tokens")]


def test_rollups_before_the_raw_horizon_come_over(tmp_path: Path, pg_url: str) -> None:
    data_dir = tmp_path / "data"
    calls = make_calls(np.random.default_rng(5), 3000, id_prefix="r")
    source = open_store(Settings(data_dir=data_dir))
    try:
        write(source, "events", calls)
        deleted = source.apply_retention("raw", CUT)
    finally:
        source.close()
    ts = np.array(calls.column("timestamp").to_pylist(), dtype="datetime64[us]")
    assert deleted == int((ts < np.datetime64(naive(CUT))).sum()) > 0
    meta = MetaDB(Settings(data_dir=data_dir).metadata_db_url)
    key = create_key(meta, None, frozenset({Scope.ADMIN}), "ops")[1]
    meta.close()

    to = f"chdb:///{tmp_path / 'ch'}"
    out = _migrate(data_dir, to, pg_url)
    assert "rows carried" in out and "verified" in out, out
    again = _migrate(data_dir, to, pg_url)  # carried again: replaced, not added
    assert "verified" in again, again

    # What the calls first written say, per project: count, errors, cost, input tokens.
    project = np.array(calls.column("project").to_pylist())
    status = np.array(calls.column("status").to_pylist())
    cost = np.array([np.nan if v is None else v for v in calls.column("cost_usd").to_pylist()])
    tokens = np.array(calls.column("input_tokens").to_pylist())
    target = Settings(data_dir=tmp_path / "replica", store_url=to, metadata_url=pg_url,
                      alerts_interval_s=0, rollup_interval_s=0, retention_interval_s=0,
                      reports_interval_s=0, reprice_interval_s=0)  # fmt: skip
    everything = {"from": T0.isoformat(), "to": END.isoformat()}
    with TestClient(create_app(target), headers={"Authorization": f"Bearer {key}"}) as c:
        for p in np.unique(project):
            mine = project == p
            r = c.get("/v1/metrics/overview", params={**everything, "project": str(p)})
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["requests"] == int(mine.sum()), p
            assert body["errors"] == int((mine & (status == "error")).sum()), p
            assert body["tokens"]["input"] == int(tokens[mine].sum()), p
            assert body["cost_usd"]["total"] == pytest.approx(np.nansum(cost[mine]), rel=1e-9)

    # Per project and day, from rollups on both sides: equal, and equal to the calls.
    day = ts.astype("datetime64[D]")
    store = open_store(target)
    try:
        assert store.raw_incomplete(Range(T0, END))
        rows = store.aggregate(Range(T0, END), FIGURES, [Dimension("project")], "day", True)
    finally:
        store.close()
    got = {(r.group[0], np.datetime64(naive(r.t), "D")): r.values["requests"] for r in rows}
    keys, counts = np.unique(np.stack([project, day.astype(str)]), axis=1, return_counts=True)
    want = {(p, np.datetime64(d, "D")): int(n) for (p, d), n in zip(keys.T, counts, strict=True)}
    assert {k: v for k, v in got.items() if v} == want
