"""/v1/metrics/custom end to end (in-process app, real DuckDB file, real metadata database):
CRUD, every bad input a 4xx naming the problem with nothing saved, and the figures of custom
metrics in time series and breakdowns against numpy over the generated calls and scores."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from tests.conftest import InProcessApp, iso

# Two days ago on the hour: inside the default raw retention (90 days), which the app's own
# retention job applies while the module runs (a fixed date in 2025 had its calls deleted).
BASE = (datetime.now(UTC) - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
MODELS = ["gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet"]
ERRORS = ["timeout", "rate_limit", "llm_error"]


class Data:
    def __init__(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        n = 600
        self.project = f"cm-{uuid.uuid4().hex[:8]}"
        self.t = np.array([BASE + timedelta(seconds=int(s)) for s in rng.integers(0, 6 * 3600, n)])
        self.model = np.array([MODELS[i] for i in rng.integers(0, 3, n)])
        self.error = rng.random(n) < 0.2
        self.error_type = np.array(
            [
                ERRORS[i] if e else None
                for i, e in zip(rng.integers(0, 3, n), self.error, strict=True)
            ]
        )
        self.latency = rng.lognormal(7.2, 0.8, n)
        self.ids = [f"call-{i}" for i in range(n)]
        # thumbs on ~60 % of calls (a few twice), rating on ~30 %
        self.scores: list[dict[str, Any]] = []
        for i in range(n):
            for _ in range(int(rng.random() < 0.6) + int(rng.random() < 0.05)):
                self.scores.append(
                    {"event_id": self.ids[i], "name": "thumbs", "value": float(rng.integers(0, 2))}
                )
            if rng.random() < 0.3:
                self.scores.append(
                    {"event_id": self.ids[i], "name": "rating", "value": float(rng.integers(1, 6))}
                )

    def events(self) -> list[dict[str, Any]]:
        return [
            {
                "id": self.ids[i],
                "timestamp": iso(self.t[i]),
                "model": self.model[i],
                "prompt_id": "p",
                "latency_ms": float(self.latency[i]),
                "status": "error" if self.error[i] else "success",
                **({"error_type": self.error_type[i]} if self.error[i] else {}),
                "input_tokens": 10,
                "output_tokens": 5,
            }
            for i in range(len(self.ids))
        ]

    def score_sums(self, name: str, pred: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Per call: the count of `name` scores (matching `pred`) and the sum of their values."""
        index = {c: i for i, c in enumerate(self.ids)}
        count, total = np.zeros(len(self.ids)), np.zeros(len(self.ids))
        for s in self.scores:
            if s["name"] == name and (pred is None or pred(s["value"])):
                count[index[s["event_id"]]] += 1
                total[index[s["event_id"]]] += s["value"]
        return count, total


@pytest.fixture(scope="module")
def data(app: InProcessApp) -> Data:
    d = Data(7)
    key = app.key(d.project, "ingest,read,admin")
    with app.client(key) as c:
        assert c.post("/v1/events", json={"events": d.events()}).json()["accepted"] == 600
        assert c.post("/v1/scores", json={"scores": d.scores}).status_code == 200
    d.key = key  # type: ignore[attr-defined]
    return d


DEFINED = {
    "satisfaction": "count(score.thumbs = 1) / count(score.thumbs)",
    "timeout_rate": 'count(error_type = "timeout") / requests',
    "fast_share": "count(latency_ms < 2000) / requests",
    "mean_rating": "avg(score.rating)",
    "weird": "(errors + 2 * count(score.rating >= 4)) / (latency_p95_ms - 1) * 100",
}


@pytest.fixture(scope="module")
def defined(app: InProcessApp, data: Data) -> Data:
    with app.client(data.key) as c:  # type: ignore[attr-defined]
        for name, formula in DEFINED.items():
            r = c.post(
                "/v1/metrics/custom",
                json={"name": name, "formula": formula, "unit": "ratio", "higher_is_better": True},
            )
            assert r.status_code == 201, r.text
    return data


def expected(d: Data, mask: np.ndarray) -> dict[str, float | None]:
    def ratio(a: float, b: float) -> float | None:
        return float(a / b) if b else None

    thumbs_n, _ = d.score_sums("thumbs")
    thumbs_up, _ = d.score_sums("thumbs", lambda v: v == 1)
    rating_n, rating_sum = d.score_sums("rating")
    rating_hi, _ = d.score_sums("rating", lambda v: v >= 4)
    n = mask.sum()
    p95 = float(np.percentile(d.latency[mask], 95)) if n else None
    weird = None
    if p95 is not None and p95 != 1:
        weird = (d.error[mask].sum() + 2 * rating_hi[mask].sum()) / (p95 - 1) * 100
    return {
        "satisfaction": ratio(thumbs_up[mask].sum(), thumbs_n[mask].sum()),
        "timeout_rate": ratio((d.error_type[mask] == "timeout").sum(), n),
        "fast_share": ratio((d.latency[mask] < 2000).sum(), n),
        "mean_rating": ratio(rating_sum[mask].sum(), rating_n[mask].sum()),
        "weird": weird,
    }


def close(got: dict[str, Any], want: dict[str, Any]) -> None:
    for name, w in want.items():
        if w is None:
            assert got[name] is None, name
        else:
            assert got[name] == pytest.approx(w, rel=1e-9), name


def test_timeseries_by_hour_matches_numpy(app: InProcessApp, defined: Data) -> None:
    d = defined
    params = {
        "from": iso(BASE - timedelta(hours=1)),
        "to": iso(BASE + timedelta(hours=7)),
        "interval": "hour",
        "metrics": ",".join([*DEFINED, "requests"]),
    }
    with app.client(d.key) as c:  # type: ignore[attr-defined]
        got = c.get("/v1/metrics/timeseries", params=params).json()
    points = got["series"][0]["points"]
    assert len(points) == 8
    hours = np.array([t.replace(minute=0, second=0) for t in d.t])
    for p in points:
        t = datetime.fromisoformat(p["t"].replace("Z", "+00:00"))
        close(p, expected(d, hours == t))
    assert points[0]["requests"] == 0 and points[0]["satisfaction"] is None


def test_breakdown_by_model_sorted_by_a_custom_metric(app: InProcessApp, defined: Data) -> None:
    d = defined
    params = {
        "from": iso(BASE),
        "to": iso(BASE + timedelta(hours=6)),
        "by": "model",
        "metrics": "satisfaction,weird,requests",
        "sort": "timeout_rate",
        "order": "asc",
    }
    with app.client(d.key) as c:  # type: ignore[attr-defined]
        got = c.get("/v1/metrics/breakdown", params=params).json()
    rows = got["rows"]
    assert [r["model"] for r in rows] == sorted(
        MODELS, key=lambda m: expected(d, d.model == m)["timeout_rate"] or 0
    )
    for r in rows:
        close(
            r,
            {
                k: v
                for k, v in expected(d, d.model == r["model"]).items()
                if k in ("satisfaction", "weird", "timeout_rate")
            },
        )


def test_catalog_lists_the_projects_custom_metrics(app: InProcessApp, defined: Data) -> None:
    with app.client(defined.key) as c:  # type: ignore[attr-defined]
        metrics = c.get("/v1/metrics/catalog").json()["metrics"]
    custom = {m["name"]: m for m in metrics if m.get("custom")}
    assert set(custom) == set(DEFINED)
    assert custom["satisfaction"]["formula"] == DEFINED["satisfaction"]
    assert custom["satisfaction"]["higher_is_better"] is True
    other = app.key(f"other-{uuid.uuid4().hex[:6]}", "read")
    with app.client(other) as c:  # another project sees none of them
        assert not [m for m in c.get("/v1/metrics/catalog").json()["metrics"] if m.get("custom")]
        r = c.get("/v1/metrics/timeseries", params={"metrics": "satisfaction"})
        assert r.status_code == 422 and "unknown metric satisfaction" in r.text


def test_crud(app: InProcessApp, data: Data) -> None:
    with app.client(data.key) as c:  # type: ignore[attr-defined]
        body = {"name": "crud_rate", "formula": "errors / requests", "unit": "ratio"}
        created = c.post("/v1/metrics/custom", json=body)
        assert created.status_code == 201 and created.json()["formula"] == "errors / requests"
        got = c.get("/v1/metrics/custom/crud_rate").json()
        assert got["name"] == "crud_rate" and got["higher_is_better"] is None
        put = c.put(
            "/v1/metrics/custom/crud_rate",
            json={"formula": "successes / requests", "higher_is_better": True},
        )
        assert put.status_code == 200, put.text
        assert c.get("/v1/metrics/custom/crud_rate").json()["formula"] == "successes / requests"
        names = [m["name"] for m in c.get("/v1/metrics/custom").json()["custom_metrics"]]
        assert "crud_rate" in names
        assert c.delete("/v1/metrics/custom/crud_rate").status_code == 204
        assert c.get("/v1/metrics/custom/crud_rate").status_code == 404
        assert c.delete("/v1/metrics/custom/crud_rate").status_code == 404


BAD = [
    (
        {"name": "x1", "formula": "latncy_p95_ms / 2"},
        "formula",
        'unknown metric "latncy_p95_ms" at 1:1; did you mean latency_p95_ms?',
    ),
    (
        {"name": "x2", "formula": "count(score.thumbz = 1)"},
        "formula",
        'unknown score "thumbz" at 1:13',
    ),
    ({"name": "x3", "formula": "errors / (requests"}, "formula", 'expected a closing ")"'),
    ({"name": "x4", "formula": 'count(latency_ms = "fast")'}, "formula", "latency_ms is not text"),
    ({"name": "x5", "formula": "import os"}, "formula", 'unknown metric "import" at 1:1'),
    ({"name": "x6", "formula": "__import__('os')"}, "formula", 'unknown function "__import__"'),
    ({"name": "x7", "formula": ""}, "formula", "is empty"),
    ({"name": "error_rate", "formula": "errors / requests"}, "name", "is a catalog metric"),
    ({"name": "Bad-Name", "formula": "errors"}, "name", "must match"),
    ({"name": "x8", "formula": "count(error_type = 'x') ; DROP"}, "formula", 'unexpected ";"'),
    ({"name": "x9", "formula": "errors", "colour": "red"}, "colour", "Extra inputs"),
]


@pytest.mark.parametrize(("body", "field", "message"), BAD)
def test_bad_input_is_a_422_naming_the_problem(
    app: InProcessApp, data: Data, body: dict[str, Any], field: str, message: str
) -> None:
    with app.client(data.key) as c:  # type: ignore[attr-defined]
        r = c.post("/v1/metrics/custom", json=body)
        assert r.status_code == 422, r.text
        problem = r.json()
        assert problem["errors"], problem
        assert any(field in e["field"] and message in e["message"] for e in problem["errors"]), (
            problem
        )
        names = [m["name"] for m in c.get("/v1/metrics/custom").json()["custom_metrics"]]
        assert body["name"] not in names  # nothing half-saved


def test_duplicates_and_permissions(app: InProcessApp, data: Data) -> None:
    with app.client(data.key) as c:  # type: ignore[attr-defined]
        body = {"name": "dup_rate", "formula": "errors / requests"}
        assert c.post("/v1/metrics/custom", json=body).status_code == 201
        again = c.post("/v1/metrics/custom", json={**body, "formula": "1"})
        assert again.status_code == 422 and "exists already" in again.text
        assert c.get("/v1/metrics/custom/dup_rate").json()["formula"] == "errors / requests"
        bad_put = c.put("/v1/metrics/custom/dup_rate", json={"formula": "errors /"})
        assert bad_put.status_code == 422
        assert c.get("/v1/metrics/custom/dup_rate").json()["formula"] == "errors / requests"
    reader = app.key(data.project, "read")
    with app.client(reader) as c:
        assert c.post("/v1/metrics/custom", json={"name": "r1", "formula": "1"}).status_code == 403
    other = app.key("someone-else", "read,admin")
    with app.client(other) as c:
        r = c.post(
            "/v1/metrics/custom", json={"name": "r2", "formula": "1", "project": data.project}
        )
        assert r.status_code == 403


def test_overview_answers_the_projects_custom_metrics(app: InProcessApp, defined: Data) -> None:
    d = defined
    params = {"from": iso(BASE), "to": iso(BASE + timedelta(hours=3)), "compare": "previous"}
    with app.client(d.key) as c:  # type: ignore[attr-defined]
        got = c.get("/v1/metrics/overview", params=params).json()
    assert set(got["custom"]) >= set(DEFINED)
    close(got["custom"], expected(d, d.t < BASE + timedelta(hours=3)))
    assert got["previous"]["custom"]["satisfaction"] is None  # no calls before BASE
