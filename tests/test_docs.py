"""Docs are tested: every setting, CLI verb and metric is documented where users look."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer.main

from promptpulse.cli import app
from promptpulse.config import Settings
from promptpulse.model import METRICS

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
