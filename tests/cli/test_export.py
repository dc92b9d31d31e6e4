"""`promptpulse export` against a real server: the job followed to the end, the file saved next
to its manifest, the sha256 checked."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.helpers import assert_clean_failure, run
from tests.conftest import LiveServer

RANGE = ("--from", "2025-06-02T00:00:00Z", "--to", "2025-06-03T00:00:00Z")


def test_export_saves_the_file_and_its_manifest(
    live: LiveServer, project: str, tmp_path: Path
) -> None:
    key = live.key(project)
    events = [
        {
            "id": f"e{i}",
            "timestamp": f"2025-06-02T12:{i:02d}:00Z",
            "model": "alpha" if i % 2 else "beta",
            "latency_ms": 10 + i,
        }
        for i in range(10)
    ]
    with live.client(key) as c:
        assert c.post("/v1/events", json={"events": events}).status_code == 200
    env = {"PROMPTPULSE_URL": live.url, "PROMPTPULSE_API_KEY": key}
    out = tmp_path / "out"
    both = ("--filter", "model=alpha", "--filter", "model=beta")  # one name, two values
    done = run("export", *RANGE, "--format", "jsonl", *both, "-o", str(out), env=env)
    assert done.returncode == 0, done.stderr
    (manifest_file,) = out.glob("*.manifest.json")
    manifest = json.loads(manifest_file.read_text())
    data = out / manifest["files"][0]["name"]
    assert manifest_file.name == data.name + ".manifest.json"
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    assert sorted(r["id"] for r in rows) == sorted(e["id"] for e in events)
    assert manifest["row_count"] == 10 and f"10 rows → {data}" in done.stdout

    columns = ("--columns", "id, model", "-f", "model=alpha")
    done = run("export", *RANGE, "--format", "csv", *columns, "-o", str(tmp_path / "csv"), env=env)
    assert done.returncode == 0, done.stderr
    (csv,) = (tmp_path / "csv").glob("*.csv")
    lines = csv.read_text().splitlines()
    assert lines[0].replace('"', "") == "id,model" and len(lines) == 1 + 5


def test_export_fails_clearly(live: LiveServer, tmp_path: Path) -> None:
    env = {"PROMPTPULSE_URL": live.url, "PROMPTPULSE_API_KEY": live.key("cli-export")}
    out = ("-o", str(tmp_path))
    assert_clean_failure(run("export", *RANGE, "--filter", "model", *out, env=env), "name=value")
    assert_clean_failure(run("export", *RANGE, "--format", "xml", *out, env=env), "422", "format")
    assert_clean_failure(run("export", *RANGE, *out, env={"PROMPTPULSE_URL": live.url}), "api-key")
    assert not list(tmp_path.iterdir())
