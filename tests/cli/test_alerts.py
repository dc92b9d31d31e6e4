"""`promptpulse alerts apply rules.yaml` is idempotent; secrets come from the environment."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from promptpulse.cli.alerts import alerting_engine, apply_document
from promptpulse.errors import Invalid
from tests.cli.helpers import CLI

RULES = """
rules:
  - name: support errors
    template: error_rate_high
    filters: {project: shop, prompt_id: support}
    channels:
      - {type: slack, url: "${PP_TEST_SLACK_URL}"}
  - name: support p95
    metric: latency_p95_ms
    operator: ">"
    threshold: 2000
    window: 10m
    for: 5m
    severity: P2
    filters: {project: shop, prompt_id: support}
budgets:
  - {name: shop monthly, amount: 500, filters: {project: shop}}
slos:
  - {name: shop availability, objective: 0.995, filters: {project: shop}}
"""
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def _counts(result: dict[str, list[str]]) -> tuple[int, ...]:
    return tuple(len(result[k]) for k in ("created", "updated", "unchanged", "deleted"))


def test_apply_document_is_idempotent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PP_TEST_SLACK_URL", "https://hooks.slack.com/services/T/B/X")
    with alerting_engine(tmp_path) as engine:
        doc = yaml.safe_load(RULES)
        assert _counts(apply_document(engine, doc, NOW)) == (4, 0, 0, 0)
        assert _counts(apply_document(engine, doc, NOW)) == (0, 0, 4, 0)
        doc["rules"][1]["threshold"] = 2500
        assert _counts(apply_document(engine, doc, NOW, dry_run=True)) == (0, 1, 3, 0)
        assert _counts(apply_document(engine, doc, NOW)) == (0, 1, 3, 0)
        assert _counts(apply_document(engine, doc, NOW)) == (0, 0, 4, 0)
        del doc["rules"][1]
        assert _counts(apply_document(engine, doc, NOW, prune=True)) == (0, 0, 3, 1)
        del doc["budgets"]
        assert _counts(apply_document(engine, doc, NOW, prune=True)) == (0, 0, 2, 1)
        with pytest.raises(Invalid, match="unknown metric"):
            apply_document(
                engine,
                {"rules": [{"name": "x", "metric": "nope", "operator": ">", "threshold": 1}]},
                NOW,
            )


def test_cli_apply_and_list(tmp_path: Path) -> None:
    f = tmp_path / "rules.yaml"
    f.write_text(RULES)
    env = {
        **os.environ,
        "PP_TEST_SLACK_URL": "https://hooks.slack.com/services/T/B/X",
        "COLUMNS": "200",
    }
    cmd = [*CLI, "alerts"]
    out = subprocess.run(
        [*cmd, "apply", str(f), "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "4 created, 0 updated, 0 unchanged" in out.stdout
    listed = subprocess.run(
        [*cmd, "rules", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert "support p95" in listed.stdout and "hooks.slack.com" not in listed.stdout
