"""`promptpulse experiments ...` against a real server."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import orjson
from typer.testing import CliRunner

from promptpulse.cli import app
from promptpulse.experiments import power
from promptpulse.model import fmt
from tests.cli.helpers import run
from tests.conftest import LiveServer, iso


def test_create_list_results_stop_delete(live: LiveServer) -> None:
    key = live.key("cli-exp", "ingest,read,admin")
    t0 = datetime(2026, 3, 2, tzinfo=UTC)
    events = [
        {
            "id": f"{v}-{i}",
            "timestamp": iso(t0 + timedelta(minutes=i)),
            "model": "m",
            "prompt_version": v,
            "latency_ms": 100 + i % 9,
            "status": "error" if i % 10 == 0 else "success",
        }
        for v in ("a", "b")
        for i in range(300)
    ]
    with live.client(key) as c:
        assert c.post("/v1/events", json={"events": events}).status_code == 200
    env = {"PROMPTPULSE_URL": live.url, "PROMPTPULSE_API_KEY": key, "COLUMNS": "200"}
    runner = CliRunner()
    made = runner.invoke(
        app,
        [
            "experiments",
            "create",
            "--name",
            "CLI test",
            "--key",
            "cli-1",
            "--variant",
            "a:prompt_version=a:50",
            "--variant",
            "b:prompt_version=b:50",
            "--mde",
            "0.05",
        ],
        env=env,
    )
    assert made.exit_code == 0, made.output
    assert "cli-1" in made.output
    listed = runner.invoke(app, ["experiments", "list"], env=env)
    assert listed.exit_code == 0 and "cli-1" in listed.output
    res = runner.invoke(app, ["experiments", "results", "cli-1"], env=env)
    assert res.exit_code == 0, res.output
    assert "decision: keep running" in res.output and "success_rate" in res.output
    # A unique start of an id or a key is enough, as for keys and alerts.
    exp_id = orjson.loads(runner.invoke(app, ["experiments", "list", "--json"], env=env).output)[
        "experiments"
    ][0]["id"]
    shown = runner.invoke(app, ["experiments", "show", exp_id[:6]], env=env)
    assert shown.exit_code == 0 and '"cli-1"' in shown.output, shown.output
    res_prefix = runner.invoke(app, ["experiments", "results", "cli-"], env=env)
    assert res_prefix.exit_code == 0 and "decision:" in res_prefix.output
    # At 80 columns every figure is whole: nothing ends in an ellipsis (" … " joins a CI).
    narrow = run("experiments", "results", "cli-1", env={**env, "COLUMNS": "80"})
    assert narrow.returncode == 0, narrow.stderr
    assert all(len(line) <= 80 for line in narrow.stdout.splitlines()), narrow.stdout
    assert not re.search(r"\S…", narrow.stdout), narrow.stdout
    for c in orjson.loads(runner.invoke(app, ["experiments", "results", "cli-1", "--json"],
                                        env=env).output)["comparisons"]:  # fmt: skip
        assert fmt.p_value(c["p_value_adjusted"]) in narrow.stdout
    stopped = runner.invoke(app, ["experiments", "stop", "cli"], env=env)
    assert stopped.exit_code == 0 and "stopped" in stopped.output
    bad = runner.invoke(app, ["experiments", "create", "--name", "x", "--variant", "nope"], env=env)
    assert bad.exit_code != 0
    assert runner.invoke(app, ["experiments", "delete", "cli-1"], env=env).exit_code == 0
    gone = runner.invoke(app, ["experiments", "show", "cli-1"], env=env)
    assert gone.exit_code == 2


def test_plan_offline() -> None:
    out = CliRunner().invoke(app, ["experiments", "plan", "--baseline", "0.95", "--mde", "0.01"])
    assert out.exit_code == 0
    assert f"{power.sample_size_proportions(0.95, 0.01).per_variant} calls" in out.output
