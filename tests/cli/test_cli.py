"""The `promptpulse` command as a user runs it: a subprocess, against a real server on the same
data directory."""

from __future__ import annotations

import importlib
import json
import time
from pathlib import Path
from typing import Any

import pytest

from promptpulse.meta import list_keys
from tests.cli.helpers import assert_clean_failure, run
from tests.conftest import LiveServer, free_port


def test_keys_create_list_revoke_against_a_running_server(live: LiveServer, project: str) -> None:
    data_dir = str(live.settings.data_dir)
    done = run(
        "keys",
        "create",
        "--project",
        project,
        "--scopes",
        "ingest,read",
        "--name",
        "cli-test",
        "--data-dir",
        data_dir,
    )
    assert done.returncode == 0, done.stderr
    secret = done.stdout.strip().splitlines()[-1]
    assert secret.startswith("pp_") and " " not in secret
    with live.client(secret) as c:
        r = c.post(
            "/v1/events",
            json={"events": [{"timestamp": "2025-06-02T12:00:00Z", "model": "m", "latency_ms": 1}]},
        )
        assert r.status_code == 200, r.text
        assert (
            c.get(
                "/v1/metrics/overview",
                params={"from": "2025-06-02T00:00:00Z", "to": "2025-06-03T00:00:00Z"},
            ).json()["requests"]
            == 1
        )

    listed = run("keys", "list", "--project", project, "--data-dir", data_dir)
    assert listed.returncode == 0, listed.stderr
    assert secret not in listed.stdout
    assert secret[10:20] not in listed.stdout  # not even a part past the shown prefix
    assert "cli-test" in listed.stdout and project in listed.stdout
    (key_id,) = [k.id for k in list_keys(live.meta, project)]
    assert key_id in listed.stdout

    revoked = run("keys", "revoke", key_id, "--data-dir", data_dir)
    assert revoked.returncode == 0, revoked.stderr
    deadline = time.monotonic() + 5
    with live.client(secret) as c:
        while (code := c.get("/v1/metrics/overview").status_code) != 401:
            assert time.monotonic() < deadline, "a revoked key kept working"
            time.sleep(0.1)
    assert code == 401


def test_ingest_file_with_bad_lines(live: LiveServer, project: str, tmp_path: Path) -> None:
    key = live.key(project)
    good = {"timestamp": "2025-06-02T12:00:00Z", "model": "m", "latency_ms": 1}
    lines = [
        json.dumps({**good, "id": "l1"}),
        "{this is not json",
        json.dumps({**good, "id": "l3"}),
        json.dumps({"id": "l4", "timestamp": "2025-06-02T12:00:00Z", "latency_ms": 1}),
        "",
        json.dumps({**good, "id": "l6", "latency_ms": -5}),
        json.dumps({**good, "id": "l7"}),
        json.dumps({**good, "id": "l1"}),  # a repeat: a duplicate, not an error
    ]
    path = tmp_path / "calls.jsonl"
    path.write_text("\n".join(lines) + "\n")
    done = run(
        "ingest",
        str(path),
        "--batch-size",
        "3",
        env={"PROMPTPULSE_URL": live.url, "PROMPTPULSE_API_KEY": key},
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "line 2" in done.stderr and "line 4: model" in done.stderr
    assert "line 6: latency_ms" in done.stderr
    assert "accepted 3, duplicates 1, rejected 3" in done.stdout
    with live.client(key) as c:
        o = c.get(
            "/v1/metrics/overview",
            params={"from": "2025-06-02T00:00:00Z", "to": "2025-06-03T00:00:00Z"},
        ).json()
    assert o["requests"] == 3


def test_query_overview_json_and_breakdown(live: LiveServer, project: str) -> None:
    key = live.key(project)
    events = [
        {"timestamp": f"2025-06-02T12:{i:02d}:00Z", "model": m, "latency_ms": 10 * i}
        for i, m in enumerate(["alpha-model"] * 3 + ["beta-model"] * 2)
    ]
    with live.client(key) as c:
        assert c.post("/v1/events", json={"events": events}).status_code == 200
    env = {"PROMPTPULSE_URL": live.url, "PROMPTPULSE_API_KEY": key}
    rng = ("--from", "2025-06-02T00:00:00Z", "--to", "2025-06-03T00:00:00Z")
    done = run("query", "overview", *rng, "--json", env=env)
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["requests"] == 5 and body["latency_ms"]["max"] == 40
    filtered = run("query", "overview", *rng, "--filter", "model=beta-model", "--json", env=env)
    assert json.loads(filtered.stdout)["requests"] == 2
    table = run("query", "breakdown", "--by", "model", *rng, env=env)
    assert table.returncode == 0, table.stderr
    assert "alpha-model" in table.stdout and "beta-model" in table.stdout
    series = run("query", "timeseries", "--interval", "hour", *rng, "--json", env=env)
    points = json.loads(series.stdout)["series"][0]["points"]
    assert len(points) == 24 and sum(p["requests"] for p in points) == 5
    # At 80 columns the range reads on one line, as a person writes it.
    narrow = run("query", "overview", *rng, env={**env, "COLUMNS": "80"})
    assert narrow.returncode == 0, narrow.stderr
    assert narrow.stdout.splitlines()[0] == "2025-06-02 00:00 → 2025-06-03 00:00 UTC", narrow.stdout
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 80, narrow.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("query", "nonsense"), ("overview",)),
        (("query", "overview", "--from", "yesterday"), ("from",)),
        (("query", "breakdown"), ("by",)),
        (("query", "overview", "--filter", "model"), ("name=value",)),
        (("ingest", "/no/such/file.jsonl"), ("does not exist",)),
        (("keys", "create", "--project", "x", "--scopes", "bogus"), ("scopes",)),
        (("keys", "create", "--scopes", "read"), ("admin",)),
        (("keys", "revoke", "no-such-key"), ("no-such-key",)),
        (("prices", "set", "m", "--project", "p", "--input", "-1", "--output", "1"), ("input",)),
        (("frobnicate",), ("frobnicate",)),
    ],
)
def test_bad_arguments_fail_clearly(
    live: LiveServer, tmp_path: Path, args: tuple[str, ...], words: tuple[str, ...]
) -> None:
    env = {
        "PROMPTPULSE_URL": live.url,
        "PROMPTPULSE_API_KEY": live.key("cli-bad"),
        "PROMPTPULSE_DATA_DIR": str(tmp_path),
    }
    assert_clean_failure(run(*args, env=env), *words)


def test_no_api_key_fails_clearly(live: LiveServer) -> None:
    assert_clean_failure(run("query", "overview", env={"PROMPTPULSE_URL": live.url}), "api-key")


def test_wrong_api_key_fails_clearly(live: LiveServer) -> None:
    done = run(
        "query", "overview", env={"PROMPTPULSE_URL": live.url, "PROMPTPULSE_API_KEY": "pp_wrong"}
    )
    assert_clean_failure(done, "401")


def test_server_not_running_fails_clearly(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    (tmp_path / "one.jsonl").write_text('{"timestamp": "2025-06-02T12:00:00Z"}\n')
    for args in (("query", "overview"), ("ingest", str(tmp_path / "one.jsonl"))):
        done = run(*args, env={"PROMPTPULSE_URL": url, "PROMPTPULSE_API_KEY": "pp_x"})
        assert_clean_failure(done, url)


def test_the_script_and_python_m_run_the_same_main() -> None:
    """pyproject's `promptpulse = "promptpulse.cli:main"` names the package's main, and
    `python -m promptpulse.cli` runs it under the name users know."""
    import tomllib

    import promptpulse.cli

    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    module, _, name = pyproject["project"]["scripts"]["promptpulse"].partition(":")
    assert (module, name) == ("promptpulse.cli", "main")
    assert promptpulse.cli.main is getattr(importlib.import_module(module), name)
    done = run("--help")
    assert done.returncode == 0, done.stderr
    assert "Usage: promptpulse " in done.stdout
    for command in ("serve", "demo", "keys", "prices", "ingest", "query", "export", "report",
                    "experiments", "alerts", "rollups", "retention"):  # fmt: skip
        assert f" {command} " in done.stdout, command


def test_every_command_summary_is_one_line() -> None:
    """A command's summary (the first paragraph of its help) is one line: Typer keeps a
    docstring's line breaks, and a summary broken mid-sentence reads as two in `--help`."""
    import typer

    from promptpulse.cli import app

    def walk(cmd: Any, path: str) -> list[tuple[str, str]]:  # Typer's (vendored) click
        out = [(path, (cmd.help or "").split("\n\n")[0])]
        if hasattr(cmd, "list_commands"):
            ctx = cmd.context_class(cmd)
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                assert sub is not None
                out += walk(sub, f"{path} {name}")
        return out

    summaries = walk(typer.main.get_command(app), "promptpulse")
    assert len(summaries) > 30
    broken = [(path, text) for path, text in summaries if "\n" in text.strip()]
    assert not broken, broken
