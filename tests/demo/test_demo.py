"""The quickstart's first command: `promptpulse demo` seeds calls and the objects behind every
page (an experiment with a winner, a budget heading for overrun, SLOs, rules, firing and
acknowledged alerts), prints a URL and a ready-to-paste export line, and serves live traffic.
Run as a real subprocess, as a user would, and started twice on one data directory."""

from __future__ import annotations

import os
import re
import shlex
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli.helpers import CLI
from tests.conftest import free_port

EXPORT = re.compile(r"^export PROMPTPULSE_URL=(\S+) PROMPTPULSE_API_KEY=(pp_\S+)$")


def _start(data_dir: Path, port: int) -> tuple[subprocess.Popen[str], str, dict[str, str]]:
    """The demo running on `data_dir`, its output up to the export line, and what that line
    exports (parsed as a shell would)."""
    args = ["demo", "--data-dir", str(data_dir), "--port", str(port), "--days", "2", "--rpm", "30"]
    proc = subprocess.Popen(
        [*CLI, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    lines: list[str] = []
    deadline = time.monotonic() + 120
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if EXPORT.match(lines[-1]):
            break
    output = "\n".join(lines)
    assert lines and EXPORT.match(lines[-1]), output
    words = shlex.split(lines[-1])
    assert words[0] == "export", output
    exported = dict(w.split("=", 1) for w in words[1:])
    return proc, output, exported


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    proc.wait(timeout=30)
    if proc.stdout is not None:
        proc.stdout.close()


def _client(exported: dict[str, str]) -> httpx.Client:
    return httpx.Client(
        base_url=exported["PROMPTPULSE_URL"],
        headers={"Authorization": f"Bearer {exported['PROMPTPULSE_API_KEY']}"},
        timeout=30,
    )


def _objects(client: httpx.Client) -> dict[str, Any]:
    return {
        "experiments": client.get("/v1/experiments").json()["experiments"],
        "budgets": client.get("/v1/budgets").json()["budgets"],
        "slos": client.get("/v1/slos").json()["slos"],
        "rules": client.get("/v1/alerts/rules").json()["rules"],
        "alerts": client.get("/v1/alerts", params={"limit": 200}).json()["alerts"],
        "dashboards": client.get("/v1/dashboards").json()["dashboards"],
    }


def _check_calls(client: httpx.Client) -> None:
    week = {"from": "2000-01-01T00:00:00Z"}
    first = client.get("/v1/metrics/overview", params=week).json()
    assert first["requests"] > 1000
    assert len(first["errors_by_type"]) >= 5  # errors of many types
    prompts = client.get(
        "/v1/metrics/breakdown", params={**week, "by": "prompt_id", "limit": 50}
    ).json()
    assert len(prompts["rows"]) == 12
    assert client.get("/").status_code == 200  # the dashboard is served too
    later = first
    for _ in range(40):  # the live trickle adds calls while it runs
        time.sleep(0.5)
        later = client.get("/v1/metrics/overview", params=week).json()
        if later["requests"] > first["requests"]:
            break
    assert later["requests"] > first["requests"]


def _check_pages(client: httpx.Client, seen: dict[str, Any]) -> None:
    """Experiments and Alerts have something to show, and the key may act on it."""
    [exp] = seen["experiments"]
    assert exp["status"] == "running"
    res = client.get(f"/v1/experiments/{exp['id']}/results").json()
    assert res["winner"] == "v5" and not res["srm"]["mismatch"], res["verdict"]
    [primary] = [c for c in res["comparisons"] if c["metric"] == "success_rate"]
    assert primary["significant"] and primary["difference"] > 0
    [budget] = seen["budgets"]
    status = budget["status"]
    assert status["projected"] > status["amount"] > status["spent"] and status["will_overrun"]
    burning = [s for s in seen["slos"] if s["status"]["burn_rate"] > 1]
    assert burning and any(a["firing"] for a in burning[0]["status"]["burn_alerts"])
    assert len(seen["rules"]) == 3
    [board] = seen["dashboards"]  # the custom dashboard, whose widgets all answer
    assert board["project"] == "demo" and len(board["widgets"]) >= 8
    for w in board["widgets"]:
        if w["type"] == "number":
            r = client.get(
                "/v1/metrics/breakdown", params={"by": "project", "metrics": w["metric"]}
            )
            assert r.status_code == 200 and r.json()["rows"], (w, r.text)
    states = [a["state"] for a in seen["alerts"]]
    assert "firing" in states and states.count("acknowledged") == 1, seen["alerts"]
    # The printed key can do what the pages offer: create an experiment, acknowledge an alert.
    made = client.post(
        "/v1/experiments",
        json={
            "name": "try it",
            "variants": [{"filter": "prompt_version=v1"}, {"filter": "prompt_version=v2"}],
        },
    )
    assert made.status_code == 201, made.text
    assert client.delete(f"/v1/experiments/{made.json()['id']}").status_code == 204
    firing = next(a for a in seen["alerts"] if a["state"] == "firing")
    acked = client.post(f"/v1/alerts/{firing['id']}/acknowledge", json={"note": "on it"})
    assert acked.status_code == 200 and acked.json()["state"] == "acknowledged", acked.text


def _ids(seen: dict[str, Any]) -> dict[str, list[str]]:
    return {k: sorted(x["id"] for x in v) for k, v in seen.items() if k != "alerts"}


@pytest.mark.slow
def test_demo_seeds_every_page_prints_an_export_line_and_restarts_with_the_same_key(
    tmp_path: Path,
) -> None:
    port = free_port()
    proc, output, exported = _start(tmp_path, port)
    try:
        assert f"http://127.0.0.1:{port}/" in output, output
        assert re.search(r"seeded [\d,]+ calls over 2 days", output), output
        assert re.search(r"seeded \d+ demo objects", output), output
        assert exported["PROMPTPULSE_URL"] == f"http://127.0.0.1:{port}"
        key_file = tmp_path / "demo-key"
        assert key_file.read_text().strip() == exported["PROMPTPULSE_API_KEY"]
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        with _client(exported) as client:
            _check_calls(client)
            seen = _objects(client)
            _check_pages(client, seen)
    finally:
        _stop(proc)

    proc, output, again = _start(tmp_path, port)
    try:
        assert again == exported and "reused from" in output, output  # the same key
        assert "not seeding again" in output and "demo objects" not in output, output
        with _client(again) as client:
            after = _objects(client)
        assert _ids(after) == _ids(seen)  # nothing duplicated
        assert {a["id"] for a in after["alerts"]} >= {a["id"] for a in seen["alerts"]}
    finally:
        _stop(proc)
