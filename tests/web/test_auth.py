"""Keys, scopes and projects over real HTTP: who may do what, and a key never sees another
project's data."""

from __future__ import annotations

import time

import httpx
import pytest

from promptpulse.meta import list_keys, revoke_key
from tests.conftest import LiveServer

T0, T1 = "2025-06-02T00:00:00Z", "2025-06-03T00:00:00Z"
RANGE = {"from": T0, "to": T1}
PROBLEM = "application/problem+json"


def event(i: int, **extra: object) -> dict:
    return {
        "id": f"e{i}",
        "timestamp": "2025-06-02T12:00:00Z",
        "model": "m",
        "latency_ms": 10 + i,
        **extra,
    }


ENDPOINTS = [
    ("POST", "/v1/events", {"json": {"events": [event(0)]}}),
    ("POST", "/v1/scores", {"json": {"scores": []}}),
    ("GET", "/v1/metrics/overview", {}),
    ("GET", "/v1/metrics/timeseries", {}),
    ("GET", "/v1/metrics/breakdown", {"params": {"by": "model"}}),
    ("GET", "/v1/metrics/catalog", {}),
    ("GET", "/v1/prices", {}),
    ("PUT", "/v1/prices/m", {"json": {"input_per_mtok": 1, "output_per_mtok": 1}}),
]


def assert_problem(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    return r.json()


BAD_HEADERS = [
    None,
    "",
    "Bearer",
    "Bearer x y",
    "Basic dXNlcjpwYXNz",
    "Bearer pp_not-a-real-key",
    "pp_no-scheme",
]
CASES_401 = [(None, *e) for e in ENDPOINTS] + [
    (h, *ENDPOINTS[i % 3]) for i, h in enumerate(BAD_HEADERS[1:])
]


@pytest.mark.parametrize(
    ("header", "method", "path", "kwargs"),
    CASES_401,
    ids=[f"{m} {p} {h!r}" for h, m, p, _ in CASES_401],
)
def test_no_or_wrong_key_is_401(
    live: LiveServer, header: str | None, method: str, path: str, kwargs: dict
) -> None:
    headers = {} if header is None else {"Authorization": header}
    with httpx.Client(base_url=live.url, timeout=30) as c:
        r = c.request(method, path, headers=headers, **kwargs)
    assert_problem(r, 401)
    assert r.headers["www-authenticate"].lower().startswith("bearer")


def test_revoked_key_stops_working_within_seconds(live: LiveServer, project: str) -> None:
    key = live.key(project)
    with live.client(key) as c:
        assert c.get("/v1/metrics/overview").status_code == 200
        (found,) = [k for k in list_keys(live.meta, project)]
        revoke_key(live.meta, found.id)
        deadline = time.monotonic() + 5  # the contract says "within a second"; allow slack
        while True:
            r = c.get("/v1/metrics/overview")
            if r.status_code == 401 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert_problem(r, 401)
        assert_problem(c.post("/v1/events", json={"events": [event(0)]}), 401)
    assert [k.revoked_at is not None for k in list_keys(live.meta, project)] == [True]


@pytest.mark.parametrize(
    ("scopes", "method", "path", "kwargs"),
    [
        ("read", "POST", "/v1/events", {"json": {"events": [event(0)]}}),
        ("read", "POST", "/v1/scores", {"json": {"scores": []}}),
        ("ingest", "GET", "/v1/metrics/overview", {}),
        ("ingest", "GET", "/v1/metrics/timeseries", {}),
        ("ingest", "GET", "/v1/metrics/breakdown", {"params": {"by": "model"}}),
        ("ingest", "GET", "/v1/prices", {}),
        (
            "ingest,read",
            "PUT",
            "/v1/prices/m",
            {"json": {"input_per_mtok": 1, "output_per_mtok": 1}},
        ),
        ("ingest,read", "DELETE", "/v1/prices/m", {}),
    ],
)
def test_wrong_scope_is_403(
    live: LiveServer, project: str, scopes: str, method: str, path: str, kwargs: dict
) -> None:
    with live.client(live.key(project, scopes)) as c:
        r = c.request(method, path, **kwargs)
    body = assert_problem(r, 403)
    assert "scope" in body["detail"]


def test_right_scope_is_enough(live: LiveServer, project: str) -> None:
    with live.client(live.key(project, "ingest")) as c:
        assert c.post("/v1/events", json={"events": [event(0)]}).status_code == 200
    with live.client(live.key(project, "read")) as c:
        assert c.get("/v1/metrics/overview", params=RANGE).json()["requests"] == 1
    with live.client(live.key(project, "admin")) as c:  # admin implies the others
        assert c.post("/v1/events", json={"events": [event(1)]}).status_code == 200
        assert c.get("/v1/metrics/overview", params=RANGE).json()["requests"] == 2
        r = c.put("/v1/prices/m", json={"input_per_mtok": 1, "output_per_mtok": 2})
        assert r.status_code == 200 and r.json()["project"] == project


@pytest.mark.parametrize(
    "path", ["/v1/metrics/overview", "/v1/metrics/timeseries", "/v1/metrics/breakdown"]
)
@pytest.mark.parametrize("asked", [["other"], ["own", "other"]])
def test_project_key_reading_another_project_is_403(
    live: LiveServer, project: str, path: str, asked: list[str]
) -> None:
    params = [("by", "model"), *(("project", project if p == "own" else p) for p in asked)]
    with live.client(live.key(project)) as c:
        body = assert_problem(c.get(path, params=params), 403)
    assert project in body["detail"]


def test_project_key_naming_its_own_project_is_fine(live: LiveServer, project: str) -> None:
    with live.client(live.key(project)) as c:
        c.post("/v1/events", json={"events": [event(0)]})
        r = c.get("/v1/metrics/overview", params={**RANGE, "project": project})
    assert r.status_code == 200 and r.json()["requests"] == 1


def test_writing_another_project_is_a_rejected_item(live: LiveServer, project: str) -> None:
    with live.client(live.key(project)) as c:
        r = c.post(
            "/v1/events",
            json={"events": [event(0), event(1, project="other"), event(2, project=project)]},
        )
        assert r.status_code == 207, r.text
        assert r.json()["accepted"] == 2
        (rejected,) = r.json()["rejected"]
        assert rejected["index"] == 1 and rejected["id"] == "e1"
        assert [e["field"] for e in rejected["errors"]] == ["project"]
        only = c.post("/v1/events", json={"events": [event(3, project="other")]})
        assert_problem(only, 422)
        assert only.json()["rejected"][0]["errors"][0]["field"] == "project"
        scores = c.post(
            "/v1/scores",
            json={"scores": [{"event_id": "e0", "name": "n", "value": 1, "project": "other"}]},
        )
        assert_problem(scores, 422)
        assert scores.json()["rejected"][0]["errors"][0]["field"] == "project"
    with live.client(live.key(None, "admin")) as c:
        assert (
            c.get("/v1/metrics/overview", params={**RANGE, "project": "other"}).json()["requests"]
            == 0
        )


def test_a_key_never_sees_another_projects_data(live: LiveServer, project: str) -> None:
    mine, theirs = project, project + "-theirs"
    with live.client(live.key(theirs)) as c:
        assert (
            c.post(
                "/v1/events",
                json={"events": [event(i, model="their-model", user_id=f"t{i}") for i in range(7)]},
            ).status_code
            == 200
        )
    with live.client(live.key(mine)) as c:
        assert (
            c.post(
                "/v1/events", json={"events": [event(i, user_id="me") for i in range(3)]}
            ).status_code
            == 200
        )
        o = c.get("/v1/metrics/overview", params=RANGE).json()
        assert o["requests"] == 3 and o["active_users"] == 1
        assert (
            c.get("/v1/metrics/overview", params={**RANGE, "model": "their-model"}).json()[
                "requests"
            ]
            == 0
        )
        ts = c.get(
            "/v1/metrics/timeseries", params={**RANGE, "interval": "day", "group_by": "project"}
        ).json()
        assert [s["group"] for s in ts["series"]] == [mine]
        assert sum(p["requests"] for s in ts["series"] for p in s["points"]) == 3
        for by in ("project", "model", "user_id"):
            rows = c.get("/v1/metrics/breakdown", params={**RANGE, "by": by}).json()["rows"]
            assert sum(r["requests"] for r in rows) == 3
            assert {r[by] for r in rows} <= {mine, "m", "me"}


def test_admin_key_sees_all_and_must_name_the_project_to_write(
    live: LiveServer, project: str
) -> None:
    a, b = project + "-a", project + "-b"
    with live.client(live.key(None, "admin")) as c:
        r = c.post("/v1/events", json={"events": [event(0)]})
        body = assert_problem(r, 422)
        assert body["rejected"][0]["errors"][0]["field"] == "project"
        r = c.post(
            "/v1/events",
            json={"events": [event(0, project=a), event(1, project=b), event(2, project=b)]},
        )
        assert r.json() == {"accepted": 3, "duplicates": 0, "rejected": []}
        both = c.get("/v1/metrics/overview", params={**RANGE, "project": [a, b]}).json()
        assert both["requests"] == 3
        rows = c.get(
            "/v1/metrics/breakdown", params={**RANGE, "by": "project", "project": [a, b]}
        ).json()["rows"]
        assert {r["project"]: r["requests"] for r in rows} == {a: 1, b: 2}
        everything = c.get("/v1/metrics/overview", params=RANGE).json()["requests"]
        assert everything >= 3
        body = assert_problem(
            c.put("/v1/prices/m", json={"input_per_mtok": 1, "output_per_mtok": 1}), 422
        )
        assert [e["field"] for e in body["errors"]] == ["project"]
        r = c.put(
            "/v1/prices/m", params={"project": a}, json={"input_per_mtok": 1, "output_per_mtok": 1}
        )
        assert r.status_code == 200 and r.json()["project"] == a
