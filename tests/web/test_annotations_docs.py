"""docs/api.md's annotations example, run against the server: the body posted as written and
one call of a new prompt version give exactly the list the page shows (ids aside)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.conftest import InProcessApp

DOC = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()


def example(name: str) -> object:
    found = re.search(rf"<!-- example: {name} -->\n```json\n(.*?)```", DOC, re.S)
    assert found is not None, f"docs/api.md has no example {name!r}"
    return json.loads(found.group(1))


def test_the_annotations_example(app: InProcessApp) -> None:
    key = app.key("docs", "ingest,read")
    call = {
        "timestamp": "2026-02-03T10:20:00Z",
        "prompt_id": "support",
        "prompt_version": "v3",
        "model": "gpt-4o-mini",
        "latency_ms": 500,
    }
    before = DOC.split("<!-- example: annotation-list -->", 1)[0]
    path = re.findall(r"`GET (/v1/annotations\?[^`]+)`", before)[-1]
    with app.client(key) as c:
        assert c.post("/v1/events", json={"events": [call]}).status_code == 200
        posted = c.post("/v1/annotations", json=example("annotation-post"))
        assert posted.status_code == 201, posted.text
        got = c.get(path).json()
    assert got["annotations"][0].pop("id") == posted.json()["id"]
    assert got == example("annotation-list")
