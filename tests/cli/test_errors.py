"""A failure is said once, on stderr, with no traceback: no key, a wrong key, no server, a bad
argument (a one-field problem's detail already names its field: not repeated below it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.helpers import assert_clean_failure, run
from tests.conftest import LiveServer, free_port

NARROW = {"COLUMNS": "80"}


def _once(done: object, message: str) -> None:
    assert_clean_failure(done)  # type: ignore[arg-type]
    stderr = " ".join(done.stderr.split())  # type: ignore[attr-defined]
    assert stderr.count(message) == 1, done.stderr  # type: ignore[attr-defined]


def test_no_key_is_said_once() -> None:
    _once(run("query", "overview", env=NARROW), "PROMPTPULSE_API_KEY")
    _once(run("experiments", "list", env=NARROW), "PROMPTPULSE_API_KEY")


def test_wrong_key_is_said_once(live: LiveServer) -> None:
    env = {**NARROW, "PROMPTPULSE_URL": live.url, "PROMPTPULSE_API_KEY": "pp_wrong"}
    for args in (("query", "overview"), ("experiments", "list"), ("alerts", "ack", "alert_x")):
        done = run(*args, env=env)
        _once(done, "HTTP 401")


def test_server_down_is_said_once() -> None:
    env = {
        **NARROW,
        "PROMPTPULSE_URL": f"http://127.0.0.1:{free_port()}",
        "PROMPTPULSE_API_KEY": "k",
    }
    for args in (("query", "overview"), ("experiments", "list"), ("report",)):
        _once(run(*args, env=env), "cannot reach")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("rollups", "rebuild", "--from", "xx", "--to", "yy"), "not an RFC 3339 time"),
        (("keys", "create", "--scopes", "bogus"), "must be a comma list"),
        (("report", "--as-of", "bad"), "not an RFC 3339 time"),
    ],
)
def test_bad_argument_is_said_once(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    _once(run(*args, "--data-dir", str(tmp_path), env=NARROW), message)


def test_a_servers_field_error_is_said_once(live: LiveServer, project: str) -> None:
    env = {**NARROW, "PROMPTPULSE_URL": live.url, "PROMPTPULSE_API_KEY": live.key(project)}
    _once(run("query", "overview", "--from", "yesterday", env=env), "RFC 3339")
