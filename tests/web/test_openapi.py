"""/openapi.json tells the truth: every operation is summarised and has a response schema, the
query parameters a route documents are the ones it reads (each changes the answer), and real
answers validate against their response models. In-process: no socket adds anything here."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from promptpulse.app import create_app
from promptpulse.config import Settings
from promptpulse.meta import MetaDB, Scope, create_key
from promptpulse.model import FILTERS
from promptpulse.store import Store, open_store
from promptpulse.web.schemas import alerts as alert_schemas
from promptpulse.web.schemas import data as data_schemas
from promptpulse.web.schemas import metrics as metric_schemas
from promptpulse.web.schemas import objects as object_schemas

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
PROJECT = "oa"


class SpyStore:
    """The real store, recording every read: a parameter may change what is asked of the store
    (e.g. `exact`, never answered from rollups on this little data) rather than the figures."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.reads: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if name not in ("aggregate", "peak_per_minute", "calls", "score_summary", "values"):
            return attr

        def spy(*args: Any, **kwargs: Any) -> Any:
            self.reads.append(f"{name}{args!r}{sorted(kwargs.items())!r}")
            return attr(*args, **kwargs)

        return spy


@dataclass
class Api:
    client: TestClient
    spy: SpyStore
    spec: dict[str, Any] = field(default_factory=dict)

    def answer(self, path: str, params: list[tuple[str, str]]) -> tuple[int, str, list[str]]:
        """Status, body and the store reads of one GET."""
        self.spy.reads.clear()
        r = self.client.get(path, params=params)
        return r.status_code, r.text, sorted(self.spy.reads)


def _event(i: int, group: str, hours_ago: float) -> dict[str, Any]:
    a = group == "a"
    return {
        "id": f"{group}-{i}",
        "timestamp": (NOW - timedelta(hours=hours_ago)).isoformat(),
        "project": PROJECT,
        "prompt_id": "p-a" if a else "p-b",
        "prompt_version": "v1" if a else "v2",
        "model": "model-a" if a else "model-b",
        "provider": "openai" if a else "anthropic",
        "environment": "prod" if a else "dev",
        "feature": "chat" if a else "search",
        "user_id": f"u-{group}",
        "session_id": f"s-{group}",
        "service": f"svc-{group}",
        "status": "success" if a or i % 2 else "error",
        "error_type": None if a or i % 2 else "timeout",
        "tags": ["beta"] if a else [],
        "metadata": {"tier": "pro" if a else "free"},
        "latency_ms": 100.0 + 10 * i + (0 if a else 400),
        "input_tokens": 100 + i,
        "output_tokens": 20,
        "cost_usd": 0.001 * (1 if a else 3),
    }


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("openapi"),
        rollup_interval_s=0,
        retention_interval_s=0,
        alerts_interval_s=0,
        export_interval_s=0,
        reports_interval_s=0,
    )
    store = open_store(settings)
    spy = SpyStore(store)
    meta = MetaDB(settings.metadata_db_url)
    _, secret = create_key(meta, None, frozenset({Scope.INGEST, Scope.READ, Scope.ADMIN}))
    app = create_app(settings, store=spy, clock=lambda: NOW)  # type: ignore[arg-type]
    try:
        with TestClient(app, headers={"Authorization": f"Bearer {secret}"}) as client:
            # Two groups differing in every filter; over 36 hours, so `from` and `to` matter.
            events = [_event(i, g, 1 + i * 1.7) for g in ("a", "b") for i in range(20)]
            r = client.post("/v1/events", json={"events": events})
            assert r.status_code == 200 and r.json()["accepted"] == 40, r.text
            yield Api(client, spy, client.get("/openapi.json").json())
    finally:
        meta.close()
        store.close()


# ---------------------------------------------------------------------------------------------
# The document.
# ---------------------------------------------------------------------------------------------


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            yield method.upper(), path, operation


def test_every_operation_has_a_summary_and_a_success_schema(api: Api) -> None:
    missing = []
    for method, path, op in _operations(api.spec):
        if not op.get("summary"):
            missing.append(f"{method} {path}: no summary")
        successes = {s: a for s, a in op["responses"].items() if s.startswith("2")}
        if not successes:
            missing.append(f"{method} {path}: no 2xx answer")
        for status, answer in successes.items():
            if status == "204":
                continue  # no content
            schemas = [c.get("schema") for c in answer.get("content", {}).values()]
            if not schemas or not all(schemas):
                missing.append(f"{method} {path}: {status} has no schema")
    assert not missing, "\n".join(missing)


def test_errors_are_problems(api: Api) -> None:
    schemas = api.spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "Problem" in schemas
    for method, path, op in _operations(api.spec):
        for status, answer in op["responses"].items():
            if status[0] in "45" and path != "/v1/traces":  # OTLP answers google.rpc.Status
                assert list(answer["content"]) == ["application/problem+json"], (method, path)
    overview = api.spec["paths"]["/v1/metrics/overview"]["get"]["responses"]
    assert {"401", "403", "422"} <= set(overview)
    ingest = api.spec["paths"]["/v1/events"]["post"]["responses"]
    problem = ingest["422"]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": "#/components/schemas/IngestProblem"}


def _params(api: Api, method: str, path: str) -> dict[str, dict[str, Any]]:
    op = api.spec["paths"][path][method.lower()]
    return {p["name"]: p for p in op.get("parameters", []) if p["in"] == "query"}


def test_metrics_routes_document_their_parameters(api: Api) -> None:
    filters = {*FILTERS, "metadata.<key>"}
    for path, own in (
        ("/v1/metrics/overview", {"compare", "exact"}),
        ("/v1/metrics/timeseries", {"interval", "metrics", "group_by", "exact"}),
        ("/v1/metrics/breakdown", {"by", "metrics", "sort", "order", "limit", "exact"}),
        ("/v1/calls", {"limit"}),
    ):
        params = _params(api, "GET", path)
        assert set(params) == {"from", "to", *filters, *own}, path
        assert all(p["description"] for p in params.values()), path
        assert params["model"]["schema"]["type"] == "array" and params["model"]["explode"]
    breakdown = _params(api, "GET", "/v1/metrics/breakdown")
    assert breakdown["by"]["required"] and not breakdown["sort"]["required"]
    assert breakdown["limit"]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 1000,
        "default": 20,
    }
    interval = _params(api, "GET", "/v1/metrics/timeseries")["interval"]["schema"]
    assert interval["enum"] == ["minute", "hour", "day", "week", "month"]


# ---------------------------------------------------------------------------------------------
# No decorative parameter: each documented one changes the answer.
# ---------------------------------------------------------------------------------------------

EARLIER = (NOW - timedelta(hours=48)).isoformat()
LATER = (NOW - timedelta(hours=6)).isoformat()
FILTER_VALUES = {
    "project": "elsewhere",
    "prompt_id": "p-a",
    "prompt_version": "v1",
    "model": "model-a",
    "provider": "openai",
    "environment": "prod",
    "feature": "chat",
    "user_id": "u-a",
    "session_id": "s-a",
    "service": "svc-a",
    "status": "error",
    "error_type": "timeout",
    "tag": "beta",
    "metadata.<key>": ("metadata.tier", "pro"),
}
RANGE = {"from": EARLIER, "to": LATER}
# route -> (the parameters it needs, a changed value for every other documented parameter)
CHANGES: dict[str, tuple[list[tuple[str, str]], dict[str, Any]]] = {
    "/v1/metrics/overview": (
        [],
        {**RANGE, **FILTER_VALUES, "compare": "previous", "exact": "true"},
    ),
    "/v1/metrics/timeseries": (
        [],
        {
            **RANGE,
            "model": "model-a",
            "interval": "day",
            "metrics": "requests",
            "group_by": "model",
            "exact": "true",
        },
    ),
    "/v1/metrics/breakdown": (
        [("by", "model")],
        {
            **RANGE,
            "model": "model-a",
            "metrics": "requests",
            "sort": "latency_p95_ms",
            "order": "asc",
            "limit": "1",
            "exact": "true",
        },
    ),
    "/v1/calls": ([], {**RANGE, "model": "model-a", "limit": "3"}),
    "/v1/compare": (
        [("by", "model"), ("values", "model-a,model-b")],
        {
            **RANGE,
            "environment": "prod",
            "primary": "error_rate",
            "guardrails": "none",
            "direction": "lower",
            "alpha": "0.2",
        },
    ),
}


def _filter_and_required(api: Api, path: str) -> set[str]:
    return {
        name
        for name, p in _params(api, "GET", path).items()
        if p["required"] or (path != "/v1/metrics/overview" and name in FILTER_VALUES)
    }


@pytest.mark.parametrize("path", sorted(CHANGES))
def test_every_documented_parameter_changes_the_answer(api: Api, path: str) -> None:
    base, changes = CHANGES[path]
    documented = set(_params(api, "GET", path))
    # Every parameter is tried, but one filter stands for all outside the overview.
    assert documented - _filter_and_required(api, path) <= set(changes), path
    assert documented >= set(changes), path
    before = api.answer(path, base)
    assert before[0] == 200, before
    same = []
    for name, value in changes.items():
        pair = value if isinstance(value, tuple) else (name, value)
        after = api.answer(path, [*base, pair])
        assert after[0] == 200, (name, after[1])
        if after == before:
            same.append(name)
    assert not same, f"{path}: these parameters change nothing: {same}"


def test_interval_day_and_hour_differ(api: Api) -> None:
    day = api.client.get("/v1/metrics/timeseries", params={"interval": "day"}).json()
    hour = api.client.get("/v1/metrics/timeseries", params={"interval": "hour"}).json()
    assert day["interval"] == "day" and hour["interval"] == "hour"
    assert len(day["series"][0]["points"]) < len(hour["series"][0]["points"])


def test_repeated_and_metadata_filters_still_work(api: Api) -> None:
    def requests(params: list[tuple[str, str]]) -> int:
        return int(api.client.get("/v1/metrics/overview", params=params).json()["requests"])

    every = requests([])
    a, b = requests([("model", "model-a")]), requests([("model", "model-b")])
    assert 0 < a < every and requests([("model", "model-a"), ("model", "model-b")]) == a + b
    assert requests([("metadata.tier", "pro")]) == a
    assert requests([("metadata.tier", "pro"), ("model", "model-b")]) == 0


# ---------------------------------------------------------------------------------------------
# Real answers validate against their models.
# ---------------------------------------------------------------------------------------------


def _valid(model: type[BaseModel], body: Any) -> None:
    """The model accepts the answer and gives it back unchanged (no key dropped or renamed)."""
    parsed = model.model_validate(body)
    again = parsed.model_dump(mode="json", by_alias=True, exclude_unset=True)
    assert json.dumps(again, sort_keys=True) == json.dumps(body, sort_keys=True)


def test_metrics_answers_match_their_models(api: Api) -> None:
    c = api.client
    _valid(metric_schemas.Overview, c.get("/v1/metrics/overview?compare=previous").json())
    _valid(metric_schemas.Timeseries, c.get("/v1/metrics/timeseries?group_by=model").json())
    _valid(metric_schemas.Breakdown, c.get("/v1/metrics/breakdown?by=metadata.tier").json())
    _valid(metric_schemas.Catalog, c.get("/v1/metrics/catalog").json())
    _valid(metric_schemas.CallsPage, c.get("/v1/calls?status=error").json())
    compared = c.get("/v1/compare", params={"by": "model", "values": "model-a,model-b"})
    _valid(metric_schemas.Comparisons, compared.json())
    _valid(data_schemas.Health, c.get("/healthz").json())
    _valid(data_schemas.Ready, c.get("/readyz").json())


def test_ingest_answers_match_their_models(api: Api) -> None:
    good = _event(99, "a", 1)
    r = api.client.post(
        "/v1/events", json={"events": [good, {**good, "id": "bad", "latency_ms": -1}]}
    )
    assert r.status_code == 207
    _valid(data_schemas.IngestResult, r.json())
    assert r.json()["rejected"][0]["errors"][0]["field"] == "latency_ms"
    bad = api.client.post("/v1/scores", json={"scores": [{"event_id": "a-1", "name": "x"}]})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    _valid(data_schemas.IngestProblem, bad.json())


def test_stored_objects_match_their_models(api: Api) -> None:
    c = api.client
    channel = {"type": "webhook", "url": "https://hooks.example.com/x", "secret": "s3cret"}
    budget = c.post(
        "/v1/budgets",
        json={"name": "b", "amount": 10, "filters": {"project": PROJECT}, "channels": [channel]},
    )
    assert budget.status_code == 201, budget.text
    assert "s3cret" not in budget.text
    _valid(object_schemas.BudgetOut, budget.json())
    _valid(object_schemas.BudgetList, c.get("/v1/budgets").json())
    slo = c.post("/v1/slos", json={"name": "s", "objective": 0.9, "filters": {"project": PROJECT}})
    assert slo.status_code == 201, slo.text
    _valid(object_schemas.SloOut, slo.json())
    history = c.get(f"/v1/slos/{slo.json()['id']}/history", params={"interval": "day"})
    _valid(object_schemas.SloHistory, history.json())
    rule = c.post(
        "/v1/alerts/rules",
        json={"name": "r", "template": "traffic_spike", "filters": {"project": PROJECT}},
    )
    assert rule.status_code == 201, rule.text
    _valid(object_schemas.RuleOut, rule.json())
    _valid(object_schemas.RuleList, c.get("/v1/alerts/rules").json())
    schedule = c.post(
        "/v1/reports/schedules",
        json={"project": PROJECT, "channels": [{"type": "file", "dir": "weekly"}]},
    )
    assert schedule.status_code == 201, schedule.text
    _valid(object_schemas.ScheduleOut, schedule.json())
    _valid(object_schemas.ScheduleList, c.get("/v1/reports/schedules").json())
    _valid(alert_schemas.AlertList, c.get("/v1/alerts").json())
    _valid(alert_schemas.Round, c.post("/v1/alerts/evaluate").json())
    export = c.post("/v1/exports", json={"format": "csv", "from": EARLIER, "to": NOW.isoformat()})
    assert export.status_code == 202, export.text
    _valid(data_schemas.ExportJob, export.json())
    for path in ("/v1/budgets", "/v1/slos", "/v1/alerts/rules", "/v1/reports/schedules"):
        for item in c.get(path).json()[path.rsplit("/", 1)[1]]:
            assert c.delete(f"{path}/{item['id']}").status_code == 204
