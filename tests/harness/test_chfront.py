"""The ClickHouse HTTP front over chdb (tests/harness/chfront.py), driven by clickhouse-connect's
real HTTP client: tables, inserts in columns, rows and Arrow, parameters, sessions, errors as
ClickHouse sends them, and the front as its own process shared by several clients."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import clickhouse_connect
import httpx
import numpy as np
import pyarrow as pa
import pytest
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

from tests.harness.chfront import Front
from tests.harness.replicas import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
TABLE = """CREATE TABLE calls (id String, project LowCardinality(String), latency Float64,
    tokens UInt32, meta Map(String, String)) ENGINE = ReplacingMergeTree ORDER BY (project, id)"""


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Front]:
    f = Front(str(tmp_path_factory.mktemp("chdb"))).start()
    yield f
    f.stop()


@pytest.fixture
def client(front: Front) -> Iterator[Client]:
    c = clickhouse_connect.get_client(host="127.0.0.1", port=front.port)
    c.command("DROP TABLE IF EXISTS calls")
    c.command(TABLE)
    yield c
    c.close()


def test_rows_columns_and_arrow_go_in_and_figures_come_out(client: Client) -> None:
    rng = np.random.default_rng(7)
    latency = rng.lognormal(6, 0.5, 3_000)
    tokens = rng.integers(1, 5_000, 3_000)
    ids = [f"c{i}" for i in range(3_000)]
    names = ["id", "project", "latency", "tokens", "meta"]
    rows = [[ids[i], "a", latency[i], int(tokens[i]), {"k": str(i % 3)}] for i in range(1_000)]
    client.insert("calls", rows, column_names=names)
    part = slice(1_000, 2_000)
    columns = [ids[part], ["a"] * 1_000, list(latency[part]), [int(t) for t in tokens[part]],
               [{"k": str(i % 3)} for i in range(1_000, 2_000)]]  # fmt: skip
    client.insert("calls", columns, column_names=names, column_oriented=True)
    arrow = pa.table({"id": ids[2_000:], "project": ["b"] * 1_000, "latency": latency[2_000:],
                      "tokens": pa.array(tokens[2_000:], pa.uint32()),
                      "meta": pa.array([[("k", str(i % 3))] for i in range(2_000, 3_000)],
                                       pa.map_(pa.string(), pa.string()))})  # fmt: skip
    client.insert_arrow("calls", arrow)
    got = client.query(
        "SELECT count(), sum(tokens), quantileExactInclusive(0.95)(latency) FROM calls "
        "WHERE project IN {projects:Array(String)} AND meta['k'] = {k:String}",
        parameters={"projects": ["a", "b"], "k": "1"},
    ).result_rows[0]
    chosen = np.arange(3_000) % 3 == 1
    assert got[0] == chosen.sum() and got[1] == tokens[chosen].sum()
    assert got[2] == pytest.approx(np.percentile(latency[chosen], 95), rel=1e-12)
    table = client.query_arrow(
        "SELECT project, count() AS n FROM calls GROUP BY project ORDER BY 1"
    )
    assert table.column("n").to_pylist() == [2_000, 1_000]


def test_errors_come_back_as_clickhouse_errors(client: Client, front: Front) -> None:
    with pytest.raises(DatabaseError) as err:
        client.query("SELECT nope FROM calls")
    assert "UNKNOWN_IDENTIFIER" in str(err.value) and "code: 47" in str(err.value)
    raw = httpx.post(f"http://127.0.0.1:{front.port}/", content=b"SELECT * FROM missing_table")
    assert raw.status_code == 500 and raw.headers["X-ClickHouse-Exception-Code"] == "60"
    assert raw.text.startswith("Code: 60. DB::Exception:")
    bad = httpx.post(
        f"http://127.0.0.1:{front.port}/",
        params={"query": "INSERT INTO calls (id, project, latency) FORMAT CSV"},
        content=b"x,a,1.5\ny,a,not a number\n",
    )
    assert bad.status_code == 500 and "CANNOT_PARSE" in bad.text
    assert bad.text.startswith(f"Code: {bad.headers['X-ClickHouse-Exception-Code']}. DB::Exception")
    assert client.command("SELECT count() FROM calls") == 0  # nothing half-written


def test_ping_and_plain_http(front: Front) -> None:
    base = f"http://127.0.0.1:{front.port}"
    assert httpx.get(f"{base}/ping").text == "Ok.\n"
    r = httpx.get(base, params={"query": "SELECT {n:UInt8} + 1", "param_n": "41"})
    assert (r.status_code, r.text) == (200, "42\n")
    r = httpx.post(base, params={"default_format": "JSONEachRow"}, content=b"SELECT 1 AS one")
    assert r.json() == {"one": 1}
    r = httpx.post(base, params={"query": "INSERT INTO calls (id, project) FORMAT CSV"},
                   content=b"p1,a\np2,a\n")  # fmt: skip
    assert r.status_code == 200, r.text


def test_sessions_keep_their_own_connection(front: Front) -> None:
    one = clickhouse_connect.get_client(host="127.0.0.1", port=front.port, session_id="one")
    two = clickhouse_connect.get_client(host="127.0.0.1", port=front.port, session_id="two")
    try:
        one.command("CREATE TEMPORARY TABLE scratch (n UInt8)")
        one.command("INSERT INTO scratch VALUES (1), (2)")
        assert one.command("SELECT sum(n) FROM scratch") == 3
        with pytest.raises(DatabaseError):
            two.command("SELECT sum(n) FROM scratch")
    finally:
        one.close()
        two.close()


def test_the_front_as_a_process_serves_many_clients(tmp_path: Path) -> None:
    port = free_port()
    with (tmp_path / "front.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.harness.chfront", "--path", str(tmp_path / "db"),
             "--port", str(port)], cwd=ROOT, stdout=log, stderr=log,
        )  # fmt: skip
    try:
        wait_for("the front", lambda: _pings(port), 60)
        setup = clickhouse_connect.get_client(host="127.0.0.1", port=port)
        setup.command(TABLE.replace("ReplacingMergeTree", "MergeTree"))

        def writer(k: int) -> None:
            c = clickhouse_connect.get_client(host="127.0.0.1", port=port)
            for batch in range(5):
                rows = [[f"{k}-{batch}-{i}", "a", 1.0, 1, {}] for i in range(200)]
                c.insert("calls", rows, column_names=["id", "project", "latency", "tokens", "meta"])
            c.close()

        threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        counted = setup.query("SELECT count(), uniqExact(id) FROM calls").result_rows
        assert counted == [(4_000, 4_000)]
        setup.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _pings(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/ping", timeout=2).text == "Ok.\n"
    except httpx.HTTPError:
        return False
