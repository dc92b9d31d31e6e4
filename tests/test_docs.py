"""Docs are tested: every setting, CLI verb and metric is documented where users look, and the
README's first call is sent as written."""

from __future__ import annotations

import json
import os
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer.main

from promptpulse.cli import app
from promptpulse.config import Settings
from promptpulse.model import METRICS
from tests.conftest import LiveServer

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
DOCS = README + "".join(p.read_text() for p in sorted((ROOT / "docs").glob("*.md")))


def _commands(group: Any, prefix: str = "") -> list[str]:
    out = []
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        if hasattr(command, "commands"):  # a group (typer vendors its own click)
            out += _commands(command, path + " ")
        else:
            out.append(path)
    return out


def _documented(command: str) -> bool:
    """`promptpulse keys revoke`, or a compact `promptpulse keys list|revoke` row."""
    group, _, verb = command.rpartition(" ")
    if not group:
        return f"promptpulse {verb}" in DOCS
    compact = rf"promptpulse {re.escape(group)} [\w|\\-]*\b{re.escape(verb)}\b"
    return f"promptpulse {command}" in DOCS or re.search(compact, DOCS) is not None


def test_quickstart_has_the_two_commands() -> None:
    quickstart = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    assert "make demo" in quickstart and "make test" in quickstart


def test_every_setting_is_in_the_readme() -> None:
    missing = [
        f"PROMPTPULSE_{name.upper()}"
        for name in Settings.model_fields
        if f"PROMPTPULSE_{name.upper()}" not in README
    ]
    assert not missing, f"settings missing from the README configuration table: {missing}"


def test_every_cli_command_is_documented() -> None:
    commands = _commands(typer.main.get_command(app))  # type: ignore[arg-type]
    assert "keys create" in commands and "query" in commands
    missing = [c for c in commands if not _documented(c)]
    assert not missing, f"CLI commands not shown in README or docs/: {missing}"


def test_every_metric_is_defined_in_the_metrics_doc() -> None:
    metrics_doc = (ROOT / "docs" / "metrics.md").read_text()
    missing = [m.name for m in METRICS if f"`{m.name}`" not in metrics_doc]
    assert not missing, f"metrics missing from docs/metrics.md: {missing}"


def test_the_readme_sending_calls_example_sends_a_call_the_dashboard_shows(
    live: LiveServer, project: str
) -> None:
    """The README's curl, run as written (but against the test server): its call is stamped now,
    so it is accepted and counted in the default (last 24 hours) range, not only stored."""
    section = README.split("## Sending calls", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None and "$(date -u" in block.group(1)
    script = block.group(1).replace("http://127.0.0.1:8000", live.url)
    env = {**os.environ, "PROMPTPULSE_API_KEY": live.key(project)}
    out = subprocess.run(
        ["sh", "-c", script], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["accepted"] == 1, out.stdout
    with live.client(live.key(project, "read")) as c:
        overview = c.get("/v1/metrics/overview").json()  # the default range, as the dashboard
        assert overview["requests"] == 1, overview
        calls = c.get("/v1/calls").json()
    (call,) = calls["calls"]
    sent = datetime.fromisoformat(call["timestamp"].replace("Z", "+00:00"))
    assert abs(datetime.now(UTC) - sent) < timedelta(minutes=5)
