"""One value no column can hold (a 10^23 integer, a year-1 time with an offset, a time before
2000) is one rejected item naming its field; the rest of the batch is stored."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import InProcessApp
from tests.ingest.test_validation import good, score, stored

HOSTILE_EVENTS: list[tuple[str, dict[str, Any], str]] = [
    ("metadata-10^23", good(9, metadata={"n": 10**23}), "metadata"),
    ("metadata-nested-10^23", good(9, metadata={"a": [{"n": -(10**30)}]}), "metadata"),
    ("year-1-with-offset", good(9, timestamp="0001-01-01T00:00:00+01:00"), "timestamp"),
    ("year-9999-negative-offset", good(9, timestamp="9999-12-31T23:59:59-01:00"), "timestamp"),
    ("before-2000", good(9, timestamp="1999-12-31T23:59:59Z"), "timestamp"),
    ("epoch", good(9, timestamp="1970-01-01T00:00:00Z"), "timestamp"),
]

HOSTILE_SCORES: list[tuple[str, dict[str, Any], str]] = [
    ("year-1-with-offset", score(9, timestamp="0001-01-01T00:00:00+01:00"), "timestamp"),
    ("before-2000", score(9, timestamp="1999-01-01T00:00:00Z"), "timestamp"),
    ("value-as-text", score(9, value="1"), "value"),
]


@pytest.fixture
def client(app: InProcessApp, project: str) -> httpx.Client:
    with app.client(app.key(project)) as c:
        yield c


@pytest.mark.parametrize(
    ("event", "field"),
    [(e, f) for _, e, f in HOSTILE_EVENTS],
    ids=[c for c, _, _ in HOSTILE_EVENTS],
)
def test_a_value_no_column_holds_is_one_rejected_item(
    app: InProcessApp, project: str, client: httpx.Client, event: dict, field: str
) -> None:
    r = client.post("/v1/events", json={"events": [good(0), event, good(2)]})
    assert r.status_code == 207, r.text
    (rejected,) = r.json()["rejected"]
    assert rejected["index"] == 1
    assert field in [e["field"] for e in rejected["errors"]], rejected
    assert sorted(row["id"] for row in stored(app, project)) == ["good-0", "good-2"]


def test_the_time_floor_is_named_in_the_message(client: httpx.Client) -> None:
    r = client.post(
        "/v1/events", json={"events": [good(0), good(1, timestamp="1999-06-01T00:00:00Z")]}
    )
    (error,) = r.json()["rejected"][0]["errors"]
    assert "2000-01-01" in error["message"]


def test_the_first_moment_of_2000_is_accepted(
    app: InProcessApp, project: str, client: httpx.Client
) -> None:
    r = client.post("/v1/events", json={"events": [good(0, timestamp="2000-01-01T00:00:00Z")]})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("item", "field"), [(s, f) for _, s, f in HOSTILE_SCORES], ids=[c for c, _, _ in HOSTILE_SCORES]
)
def test_a_hostile_score_is_one_rejected_item(client: httpx.Client, item: dict, field: str) -> None:
    client.post("/v1/events", json={"events": [good(0)]})
    r = client.post("/v1/scores", json={"scores": [score(0), item, score(2)]})
    assert r.status_code == 207, r.text
    assert r.json()["accepted"] == 2
    (rejected,) = r.json()["rejected"]
    assert field in [e["field"] for e in rejected["errors"]], rejected


def test_thumbs_as_booleans_are_still_scores(client: httpx.Client) -> None:
    client.post("/v1/events", json={"events": [good(0)]})
    r = client.post("/v1/scores", json={"scores": [score(0, value=True), score(1, value=False)]})
    assert r.status_code == 200, r.text
