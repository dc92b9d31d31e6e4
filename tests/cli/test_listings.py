"""Every listing verb at 80 columns: the ids a user types back are printed whole (never `…`),
and `--json` prints the same list, machine-readable."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from promptpulse.alerts import TEMPLATES
from promptpulse.meta import list_keys
from tests.cli.helpers import LONG, make_alert, run
from tests.conftest import LiveServer, iso

NARROW = {"COLUMNS": "80"}


def _listed(*args: str, env: dict[str, str] | None = None) -> tuple[str, object]:
    """The table at 80 columns (no line wider) and the --json answer."""
    table = run(*args, env={**NARROW, **(env or {})})
    assert table.returncode == 0, table.stderr
    assert all(len(line) <= 80 for line in table.stdout.splitlines()), table.stdout
    done = run(*args, "--json", env={**NARROW, **(env or {})})
    assert done.returncode == 0, done.stderr
    return table.stdout, json.loads(done.stdout)


def test_keys_list(live: LiveServer, project: str) -> None:
    for _ in range(2):
        run(
            "keys",
            "create",
            "--project",
            project,
            "--name",
            LONG,
            "--data-dir",
            str(live.settings.data_dir),
        )
    ids = [k.id for k in list_keys(live.meta, project)]
    out, data = _listed(
        "keys", "list", "--project", project, "--data-dir", str(live.settings.data_dir)
    )
    assert len(ids) == 2 and all(i in out for i in ids), out
    assert sorted(k["id"] for k in data["keys"]) == sorted(ids)  # type: ignore[index]


def test_prices_list(live: LiveServer, project: str) -> None:
    model = "a-very-long-fine-tuned-model-name-2026-03-01"
    d = str(live.settings.data_dir)
    done = run(
        "prices",
        "set",
        model,
        "--project",
        project,
        "--input",
        "0.5",
        "--output",
        "1.5",
        "--data-dir",
        d,
    )
    assert done.returncode == 0, done.stderr
    out, data = _listed("prices", "list", "--project", project, "--data-dir", d)
    assert model in out and project in out, out
    (entry,) = data["prices"]  # type: ignore[index]
    assert entry == {
        "id": entry["id"], "project": project, "model": model, "valid_from": None,
        "valid_to": None, "input_per_mtok": 0.5, "output_per_mtok": 1.5,
        "cached_input_per_mtok": None,
    }  # fmt: skip


def test_alerts_rules_and_list(live: LiveServer, project: str, tmp_path: Path) -> None:
    d = str(live.settings.data_dir)
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        f"rules:\n  - name: {LONG}\n    template: error_rate_high\n"
        f"    filters: {{project: {project}, prompt_id: support}}\n"
    )
    assert run("alerts", "apply", str(rules), "--data-dir", d).returncode == 0
    out, data = _listed("alerts", "rules", "--project", project, "--data-dir", d)
    (rule,) = data["rules"]  # type: ignore[index]
    assert rule["id"] in out and rule["name"] == LONG, out
    alert_id = make_alert(live, project)
    out, data = _listed("alerts", "list", "--project", project, "--data-dir", d)
    assert alert_id in out, out
    assert [a["id"] for a in data["alerts"]] == [alert_id]  # type: ignore[index]


def test_alerts_budgets_and_slos(live: LiveServer, project: str, tmp_path: Path) -> None:
    d = str(live.settings.data_dir)
    specs = tmp_path / "specs.yaml"
    specs.write_text(
        f"budgets:\n  - {{name: {LONG}, amount: 500, filters: {{project: {project}}}}}\n"
        f"slos:\n  - {{name: {LONG}, objective: 0.995, filters: {{project: {project}}}}}\n"
    )
    done = run("alerts", "apply", str(specs), "--data-dir", d)
    assert done.returncode == 0, done.stderr
    for kind in ("budgets", "slos"):
        out, data = _listed("alerts", kind, "--project", project, "--data-dir", d)
        (spec,) = data[kind]  # type: ignore[index]
        assert spec["id"] in out and spec["name"] == LONG, out


def test_alerts_templates() -> None:
    out, data = _listed("alerts", "templates")
    assert all(name in out for name in TEMPLATES), out
    assert [t["name"] for t in data["templates"]] == list(TEMPLATES)  # type: ignore[index]


def test_experiments_list(live: LiveServer, project: str) -> None:
    key = live.key(project, "ingest,read,admin")
    body = {
        "name": LONG,
        "key": "checkout-copy-rewrite-2026-spring",
        "variants": [
            {"name": "control", "filter": "prompt_version=v1"},
            {"name": "treatment", "filter": "prompt_version=v2"},
        ],
    }
    with live.client(key) as c:
        made = c.post("/v1/experiments", json=body)
    assert made.status_code == 201, made.text
    env = {"PROMPTPULSE_URL": live.url, "PROMPTPULSE_API_KEY": key}
    out, data = _listed("experiments", "list", env=env)
    assert made.json()["id"] in out and body["key"] in out, out
    assert [e["id"] for e in data["experiments"]] == [made.json()["id"]]  # type: ignore[index]


def test_retention_show(live: LiveServer) -> None:
    d = str(live.settings.data_dir)
    project = "a-project-with-a-long-name-for-retention-tests"
    assert run("retention", "set", project, "--raw-days", "30", "--data-dir", d).returncode == 0
    out, data = _listed("retention", "show", "--data-dir", d)
    assert project in out and "30*" in out, out
    assert data["projects"][project]["effective"]["raw_days"] == 30  # type: ignore[index]


def test_rollups_status(tmp_path: Path) -> None:
    _, data = _listed("rollups", "status", "--data-dir", str(tmp_path))
    assert set(data) >= {"hour", "day"}, data  # type: ignore[arg-type]


def test_query_breakdown_and_timeseries_keep_every_figure_whole(
    live: LiveServer, project: str
) -> None:
    """Many metric columns at 80 columns: split into tables that repeat the key column, never a
    figure folded or cut (each one the JSON gives is printed whole, by the formatting rule)."""
    from promptpulse.cli.query import _fmt

    key = live.key(project, "ingest,read")
    now = datetime.now(UTC).replace(microsecond=0)
    models = ["a-very-long-fine-tuned-model-name-2026-03-01", "gpt-4o-mini"]
    events = [
        {"id": f"q{i}", "timestamp": iso(now - timedelta(minutes=i)), "model": models[i % 2],
         "latency_ms": 1234.5 + i * 17.25, "cost_usd": 0.0123 * (i + 1),
         "input_tokens": 1000 + i, "output_tokens": 20 * i,
         "status": "error" if i % 5 == 0 else "success"}
        for i in range(60)
    ]  # fmt: skip
    with live.client(key) as c:
        assert c.post("/v1/events", json={"events": events}).status_code == 200
    env = {**NARROW, "PROMPTPULSE_URL": live.url, "PROMPTPULSE_API_KEY": key}
    for args, rows_of in (
        (("breakdown", "--by", "model"), lambda d: d["rows"]),
        (("timeseries", "--interval", "hour"), lambda d: d["series"][0]["points"]),
    ):
        table = run("query", *args, "--since", "1d", env=env)
        assert table.returncode == 0, table.stderr
        lines = table.stdout.splitlines()
        assert all(len(line) <= 80 for line in lines), table.stdout
        data = json.loads(run("query", *args, "--since", "1d", "--json", env=env).stdout)
        cells = {c.strip() for line in lines for c in line.split("│")}
        for row in rows_of(data):
            for name, value in row.items():
                if name != "t":
                    assert _fmt(value, name) in cells, (name, value, table.stdout)
