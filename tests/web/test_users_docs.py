"""docs/users.md's worked example, run against the server: its calls, sent as written, give
exactly the answers the page shows."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.conftest import InProcessApp

DOC = (Path(__file__).resolve().parents[2] / "docs" / "users.md").read_text()


def example(name: str) -> object:
    found = re.search(rf"<!-- example: {name} -->\n```json\n(.*?)```", DOC, re.S)
    assert found is not None, f"docs/users.md has no example {name!r}"
    return json.loads(found.group(1))


def request_of(name: str) -> str:
    """The GET line just before an example's answer."""
    before = DOC.split(f"<!-- example: {name} -->", 1)[0]
    return re.findall(r"`GET (/v1/users/[^`]+)`", before)[-1]


def test_the_worked_example(app: InProcessApp, project: str) -> None:
    key = app.key(project)
    with app.client(key) as c:
        r = c.post("/v1/events", json={"events": example("events")})
        assert r.status_code == 200 and r.json()["accepted"] == 7, r.text
        for name in ("activity", "retention"):
            path = request_of(name)
            assert path.startswith(f"/v1/users/{name}?")
            r = c.get(path)
            assert r.status_code == 200, r.text
            assert r.json() == example(name), name
