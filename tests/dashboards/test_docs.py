"""docs/dashboard.md's custom-dashboard examples, run as written: the example dashboard is
created (with the curl shown) and every widget's call answers; the bad examples get exactly the
answers the page shows, and nothing is stored."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveServer

PAGE = Path(__file__).resolve().parents[2] / "docs" / "dashboard.md"
BLOCK = re.compile(r'^```(json|sh)(?: title="([^"]+)")?\n(.*?)^```', re.S | re.M)


def blocks() -> dict[str, str]:
    section = PAGE.read_text().split("## Custom dashboards", 1)[1].split("\n## ", 1)[0]
    found = {title or kind: text for kind, title, text in BLOCK.findall(section)}
    assert {"dashboard.json", "sh", "unknown-metric.json", "future.json"} <= set(found)
    return found


def test_the_example_is_created_by_the_curl_shown_and_every_widget_answers(
    live: LiveServer, project: str, tmp_path: Path
) -> None:
    docs = blocks()
    (tmp_path / "dashboard.json").write_text(docs["dashboard.json"])
    key = live.key(project, "read,admin")
    env = {**os.environ, "PROMPTPULSE_URL": live.url, "PROMPTPULSE_API_KEY": key}
    out = subprocess.run(
        ["sh", "-c", docs["sh"]], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    made = json.loads(out.stdout)
    assert made["project"] == project and made["name"] == "Support bot", made
    sent = json.loads(docs["dashboard.json"])
    assert made["widgets"] == sent["widgets"]  # as sent: no option added
    with live.client(key) as c:
        assert c.get(f"/v1/dashboards/{made['id']}").json() == made
        for w in made["widgets"]:  # the calls the table in the docs names
            path, params = _call(w, project)
            r = c.get(path, params=params)
            assert r.status_code == 200, (w, r.text)


def _call(w: dict[str, Any], project: str) -> tuple[str, dict[str, Any]]:
    base = {"project": project, **w.get("filters", {})}
    metrics = ",".join([w["metric"]] if "metric" in w else w["metrics"])
    if w["type"] == "number":
        return "/v1/metrics/breakdown", {**base, "by": "project", "metrics": metrics}
    if w["type"] in ("line", "area", "bar"):
        return "/v1/metrics/timeseries", {**base, "metrics": metrics}
    return "/v1/metrics/breakdown", {**base, "by": w["dimension"], "metrics": metrics}


@pytest.mark.parametrize("example", ["unknown-metric", "future"])
def test_the_bad_examples_get_the_answers_shown(
    live: LiveServer, project: str, example: str
) -> None:
    docs = blocks()
    key = live.key(project, "read,admin")
    with live.client(key) as c:
        r = c.post("/v1/dashboards", content=docs[f"{example}.json"])
        assert r.status_code == 422
        assert r.json() == json.loads(docs[f"{example}.answer.json"])
        assert c.get("/v1/dashboards").json()["dashboards"] == []
