"""/v1/dashboards over the app in-process: CRUD, scopes, projects, bad input answered 4xx naming
the field with nothing stored, and export -> import round trips."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from promptpulse.dashboards import SERVER_FIELDS, WIDGET_TYPES
from promptpulse.model import CATALOG

POS = {"x": 0, "y": 0, "w": 4, "h": 3}


def board(**extra: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "name": "Latency watch",
        "description": "how fast, how many",
        "range": "7d",
        "filters": {"environment": ["prod"]},
        "widgets": [
            {"id": "calls", "type": "number", "title": "Calls", "metric": "requests",
             "position": POS},
            {"id": "lat", "type": "line", "title": "Latency", "position": {**POS, "x": 4},
             "metrics": ["latency_p50_ms", "latency_p95_ms"]},
            {"id": "models", "type": "donut", "metric": "cost_usd", "dimension": "model",
             "filters": {"status": ["success"]}, "position": {**POS, "x": 8}},
        ],
        **extra,
    }  # fmt: skip


@pytest.fixture
def keys(app, project: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"write": app.key(project, "read,admin"), "read": app.key(project, "read")}


def _stored(app, key: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    with app.client(key) as c:
        r = c.get("/v1/dashboards")
    assert r.status_code == 200, r.text
    return list(r.json()["dashboards"])


def _body(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k not in SERVER_FIELDS}


def test_create_get_list_replace_delete(app, keys, project) -> None:  # type: ignore[no-untyped-def]
    with app.client(keys["write"]) as c:
        r = c.post("/v1/dashboards", json=board())
        assert r.status_code == 201, r.text
        made = r.json()
        assert made["project"] == project and made["id"].startswith("dsh_")
        assert made["created_by"] and made["created_at"] == made["updated_at"]
        got = c.get(f"/v1/dashboards/{made['id']}").json()
        assert got == made
        assert {k: v for k, v in made.items() if k not in SERVER_FIELDS} == board()  # as sent
        assert [d["id"] for d in _stored(app, keys["read"])] == [made["id"]]
        changed = board(name="Renamed")
        changed["widgets"] = changed["widgets"][:1]
        r = c.put(f"/v1/dashboards/{made['id']}", json=changed)
        assert r.status_code == 200, r.text
        assert r.json()["name"] == "Renamed" and len(r.json()["widgets"]) == 1
        assert r.json()["created_at"] == made["created_at"]
        assert c.get(f"/v1/dashboards/{made['id']}").json()["name"] == "Renamed"
        assert c.delete(f"/v1/dashboards/{made['id']}").status_code == 204
        assert c.get(f"/v1/dashboards/{made['id']}").status_code == 404
        assert c.delete(f"/v1/dashboards/{made['id']}").status_code == 404
    assert _stored(app, keys["read"]) == []


def test_a_read_key_reads_but_never_writes(app, keys) -> None:  # type: ignore[no-untyped-def]
    with app.client(keys["write"]) as c:
        made = c.post("/v1/dashboards", json=board()).json()
    with app.client(keys["read"]) as c:
        assert c.get(f"/v1/dashboards/{made['id']}").status_code == 200
        assert c.post("/v1/dashboards", json=board()).status_code == 403
        assert c.put(f"/v1/dashboards/{made['id']}", json=board(name="x")).status_code == 403
        assert c.delete(f"/v1/dashboards/{made['id']}").status_code == 403
    assert [d["name"] for d in _stored(app, keys["read"])] == ["Latency watch"]


def test_another_projects_dashboard_is_not_found(app, keys) -> None:  # type: ignore[no-untyped-def]
    with app.client(keys["write"]) as c:
        made = c.post("/v1/dashboards", json=board()).json()
    other = app.key("someone-else", "read,admin")
    with app.client(other) as c:
        assert c.get(f"/v1/dashboards/{made['id']}").status_code == 404
        assert c.put(f"/v1/dashboards/{made['id']}", json=board()).status_code == 404
        assert c.delete(f"/v1/dashboards/{made['id']}").status_code == 404
        assert c.get("/v1/dashboards").json()["dashboards"] == []
        r = c.post("/v1/dashboards", json=board(filters={"project": ["p-elsewhere"]}))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "filters.project"
    admin = app.key(None, "admin")
    with app.client(admin) as c:  # an admin key names the project of a new dashboard
        r = c.post("/v1/dashboards", json=board())
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "project"
        r = c.post("/v1/dashboards", params={"project": "ops"}, json=board())
        assert r.status_code == 201 and r.json()["project"] == "ops"


def _bad(widget_index: int, **change: Any) -> dict[str, Any]:
    b = board()
    b["widgets"].append(
        {"id": "extra", "type": "bar", "metric": "requests", "position": {**POS, "y": 3}}
    )
    b["widgets"][widget_index].update(change)
    return b


BAD = [
    (_bad(2, metric="no_such_metric"), "widgets[2].metric", "unknown metric 'no_such_metric'"),
    (_bad(1, metrics=["latency_p95_ms", "nope"]), "widgets[1].metrics[1]", "unknown metric"),
    (_bad(3, type="radar"), "widgets[3].type", "'number'"),
    (_bad(2, dimension="colour"), "widgets[2].dimension", "unknown dimension 'colour'"),
    (_bad(2, dimension=None), "widgets[2].dimension", "needs a dimension"),
    (_bad(0, metric=None), "widgets[0].metric", "needs a metric"),
    (_bad(1, id="calls"), "widgets[1].id", "used by another widget"),
    (_bad(3, position={"x": 10, "y": 0, "w": 4, "h": 2}), "widgets[3].position", "at most 12"),
    (_bad(3, filters={"colour": ["red"]}), "widgets[3].filters.colour", "unknown filter"),
    (_bad(3, colour="red"), "widgets[3].colour", "Extra inputs"),
    (board(range="2d"), "range", "'2d' is not one of 1h"),
    (board(range={"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}), "range",
     "after"),
    (board(name=""), "name", ""),
    (board(version=2, widgets=[{"type": "sankey"}]), "version", "newer PromptPulse"),
    (board(version=0), "version", "greater than or equal to 1"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "field", "says"), BAD, ids=[b[1] for b in BAD])
def test_bad_input_is_a_422_naming_the_field_and_nothing_is_saved(  # type: ignore[no-untyped-def]
    app, keys, body: dict[str, Any], field: str, says: str
) -> None:
    with app.client(keys["write"]) as c:
        kept = c.post("/v1/dashboards", json=board()).json()
        r = c.post("/v1/dashboards", json=body)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json"
        problem = r.json()
        fields = [e["field"] for e in problem["errors"]]
        assert field in fields, problem
        assert says in problem["detail"], problem
        if field == "version":
            assert fields == ["version"]  # a newer dashboard is refused for that alone
        r = c.put(f"/v1/dashboards/{kept['id']}", json=body)  # a replace is all or nothing
        assert r.status_code == 422 and field in [e["field"] for e in r.json()["errors"]]
        assert c.get(f"/v1/dashboards/{kept['id']}").json() == kept
    assert [d["id"] for d in _stored(app, keys["read"])] == [kept["id"]]


def test_not_json_is_a_400_and_an_array_a_422(app, keys) -> None:  # type: ignore[no-untyped-def]
    with app.client(keys["write"]) as c:
        r = c.post(
            "/v1/dashboards", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert r.status_code == 400 and "JSON" in r.json()["detail"]
        r = c.post("/v1/dashboards", json=[board()])
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body"
    assert _stored(app, keys["read"]) == []


def test_export_then_import_gives_the_same_dashboard(app, keys) -> None:  # type: ignore[no-untyped-def]
    every_type = []
    for i, kind in enumerate(WIDGET_TYPES):
        at = {"x": (i % 3) * 4, "y": i // 3 * 3, "w": 4, "h": 3}
        w: dict[str, Any] = {"id": f"w{i}", "type": kind, "title": kind, "position": at}
        if kind == "histogram":
            w.update(field="ttft_ms", bins=12)
        else:
            w["metric"] = sorted(CATALOG)[i]
        if kind in ("stacked", "pie", "donut", "table", "pivot"):
            w["dimension"] = "metadata.team" if kind == "pivot" else "prompt_version"
        every_type.append(w)
    original = board(widgets=every_type, range={"from": "2026-01-01T00:00:00+02:00",
                                                "to": "2026-01-08T00:00:00Z"})  # fmt: skip
    with app.client(keys["write"]) as c:
        exported = c.get(f"/v1/dashboards/{c.post('/v1/dashboards', json=original).json()['id']}")
        exported_json = exported.json()
        imported = c.post("/v1/dashboards", json=copy.deepcopy(exported_json))
        assert imported.status_code == 201, imported.text
        assert imported.json()["id"] != exported_json["id"]
        assert _body(imported.json()) == _body(exported_json)
        again = c.get(f"/v1/dashboards/{imported.json()['id']}").json()
        assert _body(again) == _body(exported_json)
    # what was sent survives, times in UTC
    assert exported_json["range"] == {"from": "2025-12-31T22:00:00Z", "to": "2026-01-08T00:00:00Z"}
    assert [w["type"] for w in exported_json["widgets"]] == list(WIDGET_TYPES)
    assert exported_json["widgets"][-1]["bins"] == 12


def test_a_widget_may_draw_the_projects_own_custom_metric_and_not_anothers(  # type: ignore[no-untyped-def]
    app, keys, project
) -> None:
    metric = {"name": "slow_share", "formula": "count(latency_ms > 2000) / requests",
              "unit": "ratio", "higher_is_better": False}  # fmt: skip
    widget = {"id": "slow", "type": "line", "metric": "slow_share", "position": POS}
    other = app.key("someone-else", "read,admin")
    with app.client(keys["write"]) as c:
        assert c.post("/v1/metrics/custom", json=metric).status_code == 201
        made = c.post("/v1/dashboards", json=board(widgets=[widget]))
        assert made.status_code == 201, made.text
        assert made.json()["widgets"][0]["metric"] == "slow_share"
    with app.client(other) as c:
        refused = c.post("/v1/dashboards", json=board(widgets=[widget]))
        assert refused.status_code == 422, refused.text
        assert "widgets[0].metric" in refused.text
        assert c.get("/v1/dashboards").json()["dashboards"] == []
