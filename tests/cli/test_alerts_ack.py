"""`promptpulse alerts ack|resolve ID` through a running server's API: the whole id or a unique
start of an open alert's id; an ambiguous start lists the matches."""

from __future__ import annotations

import json

from tests.cli.helpers import assert_clean_failure, make_alert, run
from tests.conftest import LiveServer


def test_ack_then_resolve_by_prefix(live: LiveServer, project: str) -> None:
    key = live.key(project, "read,admin")
    env = {"PROMPTPULSE_URL": live.url, "PROMPTPULSE_API_KEY": key, "COLUMNS": "80"}
    alert_id = make_alert(live, project, "ack me")
    done = run("alerts", "ack", alert_id, "--note", "on it", "--by", "ana", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"acknowledged {alert_id} (ack me)"
    with live.client(key) as c:
        got = c.get(f"/v1/alerts/{alert_id}").json()
    assert got["state"] == "acknowledged" and got["acknowledged_by"] == "ana"

    again = run("alerts", "ack", alert_id, env=env)  # the server says why, once
    assert_clean_failure(again, "is acknowledged; only a firing")

    # A unique start is enough (an acknowledged alert is still open).
    done = run("alerts", "resolve", alert_id[: len("alert_") + 12], "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["state"] == "resolved"


def test_an_ambiguous_start_lists_the_matches(live: LiveServer, project: str) -> None:
    key = live.key(project, "read,admin")
    env = {"PROMPTPULSE_URL": live.url, "PROMPTPULSE_API_KEY": key, "COLUMNS": "80"}
    ids = [make_alert(live, project, f"alert {i}") for i in range(2)]
    done = run("alerts", "ack", "alert_", env=env)
    assert_clean_failure(done, "is the start of 2 open alert ids")
    assert all(i in done.stderr.replace("\n", "") for i in ids), done.stderr
    assert_clean_failure(run("alerts", "resolve", "alert_nope", env=env), "404")
    assert_clean_failure(run("alerts", "ack", ids[0], env={"COLUMNS": "80"}), "PROMPTPULSE_API_KEY")
