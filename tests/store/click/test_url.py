"""PROMPTPULSE_STORE_URL: every form it takes, every way it is wrong, and that the DuckDB path
never loads a ClickHouse driver (chdb alone costs ~240 MB of memory)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from promptpulse.config import Settings
from promptpulse.store import open_store
from promptpulse.store.url import StoreTarget, parse_store_url

DEFAULT = Path("/data/events.duckdb")


@pytest.mark.parametrize(
    ("url", "want"),
    [
        (None, StoreTarget("duckdb", DEFAULT)),
        ("", StoreTarget("duckdb", DEFAULT)),
        ("duckdb:///rel/events.duckdb", StoreTarget("duckdb", Path("rel/events.duckdb"))),
        ("duckdb:////abs/events.duckdb", StoreTarget("duckdb", Path("/abs/events.duckdb"))),
        ("chdb:///rel/ch", StoreTarget("chdb", Path("rel/ch"))),
        ("chdb:////abs/ch", StoreTarget("chdb", Path("/abs/ch"))),
        ("chdb:////abs/ch?database=s1", StoreTarget("chdb", Path("/abs/ch"), database="s1")),
        ("clickhouse://h", StoreTarget("clickhouse", host="h")),
        (
            "clickhouse://u:p%40ss@ch.example:9440/pp?secure=true",
            StoreTarget(
                "clickhouse",
                host="ch.example",
                port=9440,
                user="u",
                password="p@ss",
                database="pp",
                secure=True,
            ),
        ),
        ("clickhouse://u@h:8123/?secure=0", StoreTarget("clickhouse", host="h", user="u")),
    ],
)
def test_parses(url: str | None, want: StoreTarget) -> None:
    assert parse_store_url(url, DEFAULT) == want


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("postgres://h/db", "scheme must be one of"),
        ("clickhouse:/h", "scheme must be one of"),
        ("duckdb://rel/file", "three slashes"),
        ("chdb:///", "no path"),
        ("clickhouse://:8123/db", "no host"),
        ("clickhouse://h:port/db", "Port could not be cast"),
        ("clickhouse://h/db-1", "database name"),
        ("clickhouse://h/db?secure=maybe", "secure must be true or false"),
        ("clickhouse://h/db?compress=1", "unknown option 'compress'"),
        ("chdb:///p?database=a;b", "database name"),
    ],
)
def test_a_bad_url_names_the_setting_and_the_reason(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match="PROMPTPULSE_STORE_URL") as info:
        parse_store_url(url, DEFAULT)
    assert reason in str(info.value)


def test_open_store_refuses_a_bad_url(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="PROMPTPULSE_STORE_URL='mysql://x'"):
        open_store(Settings(data_dir=tmp_path, store_url="mysql://x"))


def test_an_unreachable_server_is_store_unavailable(tmp_path: Path) -> None:
    """Nothing listens on port 1: a clear 503-class error, not a crash with a stack of
    urllib3 internals."""
    from promptpulse.errors import StoreUnavailable

    settings = Settings(
        data_dir=tmp_path, store_url="clickhouse://127.0.0.1:1/db", clickhouse_connect_timeout_s=1
    )
    with pytest.raises(StoreUnavailable, match=re.escape("127.0.0.1:1/db")):
        open_store(settings)


def test_the_duckdb_path_loads_no_clickhouse_driver(tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from promptpulse.config import Settings; "
        "from promptpulse.store import open_store; "
        f"s = open_store(Settings(data_dir=Path({str(tmp_path)!r}))); s.ping(); s.close(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('chdb', 'clickhouse_connect', 'promptpulse') and 'click' in m or m == 'chdb'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_a_bad_url_never_shows_its_password() -> None:
    with pytest.raises(ValueError) as bad:
        parse_store_url("clickhouse://writer:s3cret@host:notaport/db", Path("."))
    assert "s3cret" not in str(bad.value) and "writer:***@host" in str(bad.value)
