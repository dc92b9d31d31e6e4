"""/v1/annotations end to end (in-process app, real DuckDB file, real metadata database): a
recorded annotation and the prompt-version markers of random calls come back merged, each bad
input is a 4xx naming the field with nothing saved, and another project is refused."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from tests.conftest import InProcessApp, iso

# A few days ago at midnight: inside the default raw retention (90 days), which the app's own
# retention job applies while the module runs (the version markers are read from the calls).
BASE = (datetime.now(UTC) - timedelta(days=5)).replace(hour=0, minute=0, second=0, microsecond=0)


def _calls(rng: np.random.Generator, project: str) -> list[dict[str, Any]]:
    """Versions v0..v3 of two prompts, each first called at a random moment of two days."""
    out = []
    for prompt in ("chat", "rag"):
        for v in range(4):
            first = int(rng.integers(0, 2 * 86400))
            for k, s in enumerate([first, *rng.integers(first, 2 * 86400, 5).tolist()]):
                out.append(
                    {
                        "id": f"{prompt}-{v}-{k}",
                        "timestamp": iso(BASE + timedelta(seconds=int(s))),
                        "project": project,
                        "prompt_id": prompt,
                        "prompt_version": f"v{v}",
                        "model": "gpt-4o" if prompt == "chat" else "gpt-4o-mini",
                        "latency_ms": 100.0,
                    }
                )
    return out


@pytest.fixture(scope="module")
def seeded(app: InProcessApp) -> tuple[str, str, list[dict[str, Any]]]:
    project = f"an-{uuid.uuid4().hex[:8]}"
    key = app.key(project, "ingest,read,admin")
    calls = _calls(np.random.default_rng(5), project)
    with app.client(key) as c:
        r = c.post("/v1/events", json={"events": calls})
        assert r.status_code == 200 and r.json()["accepted"] == len(calls)
    return project, key, calls


def _first_seen(calls: list[dict[str, Any]], prompt: str | None = None) -> dict[tuple, str]:
    firsts: dict[tuple, str] = {}
    for c in calls:
        if prompt is None or c["prompt_id"] == prompt:
            k = (c["prompt_id"], c["prompt_version"])
            firsts[k] = min(firsts.get(k, c["timestamp"]), c["timestamp"])
    return firsts


def test_annotations_and_version_markers_merge(app: InProcessApp, seeded: Any) -> None:
    project, key, calls = seeded
    with app.client(key) as c:
        t = BASE + timedelta(hours=30)
        body = {"time": iso(t), "title": "deploy 1.4", "kind": "deploy"}
        posted = c.post("/v1/annotations", json=body)
        assert posted.status_code == 201, posted.text
        scoped = {"title": "rag tweak", "kind": "config", "filters": {"prompt_id": "rag"}}
        assert c.post("/v1/annotations", json={**scoped, "time": iso(t)}).status_code == 201
        q = {"from": iso(BASE), "to": iso(BASE + timedelta(days=2))}
        got = c.get("/v1/annotations", params=q).json()["annotations"]
        only_chat = c.get("/v1/annotations", params={**q, "prompt_id": "chat"}).json()
    versions = {
        (m["prompt_id"], m["prompt_version"]): m["time"]
        for m in got
        if m["source"] == "prompt_version"
    }
    assert versions == _first_seen(calls)
    manual = [m for m in got if m["source"] == "manual"]
    assert {m["title"] for m in manual} == {"deploy 1.4", "rag tweak"}
    assert all(m["time"] == iso(t) and m["project"] == project for m in manual)
    assert [m["time"] for m in got] == sorted(m["time"] for m in got)
    # Filtered to the chat prompt: its versions, the project-wide deploy, not the rag change.
    chat = only_chat["annotations"]
    assert {m["title"] for m in chat if m["source"] == "manual"} == {"deploy 1.4"}
    chat_versions = {(m["prompt_id"], m["prompt_version"]) for m in chat if m.get("prompt_version")}
    assert chat_versions == set(_first_seen(calls, "chat"))


def test_a_range_after_a_first_call_has_no_marker_for_it(app: InProcessApp, seeded: Any) -> None:
    _, key, calls = seeded
    firsts = _first_seen(calls)
    cut = sorted(firsts.values())[3]
    with app.client(key) as c:
        q = {"from": cut, "to": iso(BASE + timedelta(days=3))}
        got = c.get("/v1/annotations", params=q).json()["annotations"]
    seen = {(m["prompt_id"], m["prompt_version"]) for m in got if m["source"] == "prompt_version"}
    assert seen == {k for k, v in firsts.items() if v >= cut}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"time": "1999-12-31T23:59:59Z", "title": "x"}, "time"),
        ({"time": "2100-01-01T00:00:00Z", "title": "x"}, "time"),
        ({"time": "2026-01-01T00:00:00", "title": "x"}, "time"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "x", "description": "d" * 2001}, "description"),
        ({"title": "x", "kind": "release"}, "kind"),
        ({"title": "x", "filters": {"feature": "a"}}, "filters"),
        ({"title": "x", "filters": {"model": "m" * 201}}, "filters.model"),
        ({"title": "a\u0000b"}, "title"),
        ({"title": "x", "filters": {"environment": "p\u0000"}}, "filters.environment"),
    ],
)
def test_bad_input_is_422_naming_the_field_nothing_saved(
    app: InProcessApp, body: dict[str, Any], field: str
) -> None:
    project = f"bad-{uuid.uuid4().hex[:8]}"
    key = app.key(project, "ingest,read,admin")
    with app.client(key) as c:
        r = c.post("/v1/annotations", json=body)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert field in r.text
        q = {"from": "2000-01-01T00:00:00Z", "to": "2099-12-31T00:00:00Z"}
        assert c.get("/v1/annotations", params=q).json()["annotations"] == []


def test_projects_and_scopes(app: InProcessApp, seeded: Any) -> None:
    project, _, _ = seeded
    other = f"other-{uuid.uuid4().hex[:8]}"
    ingest_only = app.key(project, "ingest")
    read_only = app.key(project, "read")
    admin = app.key(None, "ingest,read,admin")
    t = iso(BASE + timedelta(hours=1))
    with app.client(ingest_only) as c:
        r = c.post("/v1/annotations", json={"title": "x", "time": t, "project": other})
        assert r.status_code == 403
        ok = c.post("/v1/annotations", json={"title": "from CI", "time": t})
        assert ok.status_code == 201 and ok.json()["project"] == project
        assert c.delete(f"/v1/annotations/{ok.json()['id']}").status_code == 403
    with app.client(read_only) as c:
        assert c.post("/v1/annotations", json={"title": "x"}).status_code == 403
        assert c.get("/v1/annotations", params={"project": other}).status_code == 403
    with app.client(admin) as c:
        r = c.post("/v1/annotations", json={"title": "x"})
        assert r.status_code == 422 and "project" in r.text
        made = c.post("/v1/annotations", json={"title": "y", "time": t, "project": other}).json()
    with app.client(app.key(project, "admin")) as c:  # another project's annotation: not found
        assert c.delete(f"/v1/annotations/{made['id']}").status_code == 404
        assert c.delete(f"/v1/annotations/{ok.json()['id']}").status_code == 204
        assert c.delete(f"/v1/annotations/{ok.json()['id']}").status_code == 404
        q = {"from": iso(BASE), "to": iso(BASE + timedelta(hours=2))}
        titles = [m["title"] for m in c.get("/v1/annotations", params=q).json()["annotations"]]
    assert "from CI" not in titles and "y" not in titles
