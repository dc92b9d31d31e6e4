"""`promptpulse migrate`: a DuckDB data directory with every kind of data (calls over three
months, scores, keys, prices, rules, alerts and their deliveries, a silence, a budget, an SLO, an
experiment with exposures, a report schedule, a retention policy) moved into chdb + a real
PostgreSQL by the command a user runs, killed half-way and run again; then everything is read
back from the new stores and compared with what was written, independently of both stores."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from promptpulse.app import create_app
from promptpulse.config import Settings
from promptpulse.meta import MetaDB
from promptpulse.store import open_store
from tests.meta import make_fixture as fx
from tests.store.conftest import make_calls, make_scores, write

pytest.importorskip("chdb")
SRC = Path(__file__).parents[2] / "src"


def _source(data_dir: Path) -> tuple[dict[str, str], pa.Table, pa.Table]:
    """The metadata story of tests/meta plus 4,000 random calls (2025-03-30 to 2025-04-02: two
    months) and their scores; the secrets, and the calls and scores written here."""
    secrets = fx.build(data_dir)
    rng = np.random.default_rng(11)
    calls = make_calls(rng, 4000, id_prefix="m")
    scores = make_scores(rng, calls, 700)
    store = open_store(Settings(data_dir=data_dir))
    try:
        write(store, "events", calls)
        write(store, "scores", scores)
    finally:
        store.close()
    return secrets, calls, scores


def _migrate(data_dir: Path, to: str, meta: str, kill_after: str | None = None) -> str:
    """The command as a user runs it; with `kill_after`, SIGKILLed once that line appears."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMPTPULSE_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    env["COLUMNS"] = "200"
    cmd = [sys.executable, "-m", "promptpulse.cli", "migrate", "--data-dir", str(data_dir),
           "--to", to, "--metadata", meta]  # fmt: skip
    out = []
    with subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True) as proc:  # fmt: skip
        assert proc.stdout is not None
        for line in proc.stdout:
            out.append(line)
            if kill_after and kill_after in line:
                proc.send_signal(signal.SIGKILL)
                break
        proc.wait(timeout=300)
    text = "".join(out)
    if kill_after:
        assert proc.returncode == -signal.SIGKILL, text
    else:
        assert proc.returncode == 0, text
    return text


def _rows(engine: sa.Engine) -> dict[str, int]:
    names = [
        t for t in sa.inspect(engine).get_table_names() if t not in ("schema_version", "leases")
    ]
    with engine.connect() as c:
        return {
            n: int(c.execute(sa.text(f'SELECT count(*) FROM "{n}"')).scalar_one()) for n in names
        }


def test_a_data_directory_moves_up_resumes_after_a_crash_and_verifies(
    tmp_path: Path, pg_url: str
) -> None:
    data_dir = tmp_path / "data"
    secrets, calls, scores = _source(data_dir)
    to = f"chdb:///{tmp_path / 'ch'}"
    first = _migrate(data_dir, to, pg_url, kill_after="calls: 2025-03 copied")
    assert "metadata: api_keys" in first
    done = _migrate(data_dir, to, pg_url)
    assert "verified" in done and "2025-03" not in done.split("metadata:")[-1], done

    # Metadata: every row of every table, whatever the run that copied it.
    source_meta = MetaDB(Settings(data_dir=data_dir).metadata_db_url)
    target_meta = MetaDB(pg_url)
    try:
        want, got = _rows(source_meta.engine), _rows(target_meta.engine)
    finally:
        source_meta.close()
        target_meta.close()
    assert want == got and all(
        want[t] > 0
        for t in ("api_keys", "alerts", "alert_deliveries", "experiments", "experiment_exposures")
    )

    # Calls and scores, counted independently of any store: the random calls per project plus
    # the fixture's own events (every one of them in project "shop").
    target = Settings(data_dir=tmp_path / "replica", store_url=to, metadata_url=pg_url,
                      alerts_interval_s=0, rollup_interval_s=0, retention_interval_s=0,
                      reports_interval_s=0)  # fmt: skip
    projects, counts = np.unique(np.array(calls.column("project").to_pylist()), return_counts=True)
    expected = dict(zip(projects.tolist(), counts.tolist(), strict=True))
    expected[fx.PROJECT] = len(fx._events())
    admin = {"Authorization": f"Bearer {secrets['admin']}"}  # a key that came over
    with TestClient(create_app(target), headers=admin) as c:
        for project, n in expected.items():
            r = c.get("/v1/metrics/overview", params={"from": "2000-01-01T00:00:00Z",
                                                       "to": "2099-01-01T00:00:00Z",
                                                       "project": project})  # fmt: skip
            assert r.status_code == 200, r.text
            assert r.json()["requests"] == n, project
            cost = (
                np.nansum(
                    [
                        v
                        for v, p in zip(
                            calls.column("cost_usd").to_pylist(),
                            calls.column("project").to_pylist(),
                            strict=True,
                        )
                        if p == project and v is not None
                    ]
                )
                if project != fx.PROJECT
                else None
            )
            if cost is not None:
                assert r.json()["cost_usd"]["total"] == pytest.approx(cost, rel=1e-9)
    store = open_store(target)
    try:
        # Twice through the writer for March (killed, then resumed): still each call once.
        assert store.row_counts() == {"calls": sum(expected.values()), "scores": scores.num_rows}
    finally:
        store.close()
