"""Property tests (hypothesis) over generated and hostile bodies for `/v1/events`, `/v1/scores`
and `/v1/traces` (issue 17, "What it must show"): never a 5xx; every bad item is named (its
index, a field, a reason); every item the server calls good is stored, exactly once; and
bodies built only of valid values are stored whole."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from promptpulse.model import Scope
from tests.conftest import InProcessApp

NOW = datetime.now(UTC)
PROFILE = settings(
    max_examples=int(os.environ.get("HOSTILE_EXAMPLES", "25")),
    derandomize=os.environ.get("HOSTILE_EXAMPLES") is None,  # stable in the suite
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# -- values ------------------------------------------------------------------------------------

good_time = st.datetimes(
    min_value=datetime(2001, 1, 1), max_value=(NOW - timedelta(hours=1)).replace(tzinfo=None),
    timezones=st.sampled_from([UTC, None]).map(lambda tz: tz or UTC),
).map(lambda t: t.isoformat())  # fmt: skip
hostile_time = st.sampled_from([
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "1999-12-31T23:59:59Z",
    "1970-01-01T00:00:00Z", "2026-13-01T00:00:00Z", "2026-01-01T00:00:00", "now", "", "\x00",
    "2026-01-01T00:00:00+99:00", (NOW + timedelta(days=3)).isoformat(),
])  # fmt: skip
hostile_number = st.sampled_from(
    [10**23, -(10**23), 2**63, -1, -0.5, float("nan"), float("inf"), "12", True, None, [], {}]
)
control_text = st.text(st.characters(codec="utf-8", categories=["Cc", "Zl", "Zp"]), max_size=50)
hostile_text = st.one_of(
    control_text,
    st.text(max_size=300),
    st.just("x" * 20_000),
    st.just('=HYPERLINK("http://evil.example")\r\nX: y'),
    st.integers(),
)
good_text = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=60
)
good_metadata = st.dictionaries(
    st.text(min_size=1, max_size=10), st.one_of(st.integers(-1000, 1000), good_text), max_size=3
)
hostile_metadata = st.one_of(
    st.just({"n": 10**23}),
    st.just({"deep": [[[[{"n": -(2**64)}]]]]}),
    st.just({"big": "y" * 20_000}),
    st.integers(),
    st.text(max_size=10),
)


@st.composite
def event(draw: st.DrawFn, hostile: bool) -> dict[str, Any]:
    def pick(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> Any:
        return draw(st.one_of(good, bad)) if hostile else draw(good)

    item: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "timestamp": pick(good_time, hostile_time),
        "model": pick(good_text, hostile_text),
        "latency_ms": pick(st.floats(0, 1e6), hostile_number),
    }
    optional = {
        "prompt_id": (good_text, hostile_text),
        "user_id": (good_text, hostile_text),
        "metadata": (good_metadata, hostile_metadata),
        "input_tokens": (st.integers(0, 10**6), hostile_number),
        "retries": (st.integers(0, 1000), hostile_number),
        "http_status": (st.integers(100, 599), hostile_number),
        "tags": (st.lists(good_text, max_size=3), st.lists(hostile_text, max_size=40)),
    }
    for name, (good, bad) in optional.items():
        if draw(st.booleans()):
            item[name] = pick(good, bad)
    return item


@st.composite
def score(draw: st.DrawFn, hostile: bool) -> dict[str, Any]:
    def pick(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> Any:
        return draw(st.one_of(good, bad)) if hostile else draw(good)

    return {
        "id": uuid.uuid4().hex,
        "event_id": pick(st.just("e-1"), hostile_text),
        "name": pick(good_text.map(lambda t: t[:100]), hostile_text),
        "value": pick(st.floats(-1e6, 1e6) | st.booleans(), hostile_number),
        "timestamp": pick(good_time, hostile_time),
    }


# -- checks ------------------------------------------------------------------------------------


def _post(app: InProcessApp, key: str, path: str, body: dict[str, Any]) -> Any:
    with app.client(key) as c:
        return c.post(
            path,
            content=json.dumps(body, allow_nan=True).encode(),
            headers={"Content-Type": "application/json"},
        )


def _check_answer(r: Any, sent: int) -> tuple[int, list[dict[str, Any]]]:
    """Never a 5xx; the accounting of a 200/207/422 adds up; every rejection names its item."""
    assert r.status_code < 500, r.text[:2000]
    assert r.status_code in (200, 207, 413, 422), r.text[:2000]
    if r.status_code == 413:
        return 0, []
    body = r.json()
    rejected = body.get("rejected", [])
    if r.status_code == 422 and "rejected" not in body:  # the body as a whole
        assert body.get("errors"), body
        return 0, []
    assert body["accepted"] + body["duplicates"] + len(rejected) == sent, body
    for item in rejected:
        assert 0 <= item["index"] < sent
        assert item["errors"] and all(e["field"] and e["message"] for e in item["errors"])
    return body["accepted"], rejected


def _stored(app: InProcessApp, project: str) -> int:
    scope = Scope(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    return len(app.ctx.store.calls(scope.with_filter("project", [project]), ["id"], 100_000))


@PROFILE
@given(items=st.lists(event(hostile=True), min_size=1, max_size=12))
def test_hostile_events_never_5xx_and_every_good_one_is_stored(
    app: InProcessApp, items: list[dict[str, Any]]
) -> None:
    project = f"h-{uuid.uuid4().hex[:10]}"
    accepted, rejected = _check_answer(
        _post(app, app.key(project), "/v1/events", {"events": items}), len(items)
    )
    assert _stored(app, project) == accepted
    good = len(items) - len(rejected)
    assert accepted == good or (not rejected and accepted == 0)  # 413/422 store nothing


@PROFILE
@given(items=st.lists(event(hostile=False), min_size=1, max_size=12))
def test_valid_events_are_all_stored(app: InProcessApp, items: list[dict[str, Any]]) -> None:
    project = f"g-{uuid.uuid4().hex[:10]}"
    r = _post(app, app.key(project), "/v1/events", {"events": items})
    assert r.status_code == 200, r.text[:2000]
    assert _stored(app, project) == len(items)


@PROFILE
@given(items=st.lists(score(hostile=True), min_size=1, max_size=12))
def test_hostile_scores_never_5xx_and_are_accounted_for(
    app: InProcessApp, items: list[dict[str, Any]]
) -> None:
    project = f"s-{uuid.uuid4().hex[:10]}"
    _check_answer(_post(app, app.key(project), "/v1/scores", {"scores": items}), len(items))


@PROFILE
@given(items=st.lists(score(hostile=False), min_size=1, max_size=12))
def test_valid_scores_are_all_stored(app: InProcessApp, items: list[dict[str, Any]]) -> None:
    project = f"v-{uuid.uuid4().hex[:10]}"
    r = _post(app, app.key(project), "/v1/scores", {"scores": items})
    assert r.status_code == 200, r.text[:2000]
    assert r.json()["accepted"] == len(items)


def _attribute(key: str, value: Any) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=max(-(2**63), min(2**63 - 1, value))))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


span_value = st.one_of(
    st.integers(-(2**70), 2**70), st.floats(allow_nan=True), good_text, hostile_text, st.booleans()
)


@st.composite
def span(draw: st.DrawFn) -> Span:
    start = draw(st.integers(0, 2**64 - 1))
    end = draw(st.one_of(st.just(min(start + 1_000_000, 2**64 - 1)), st.integers(0, 2**64 - 1)))
    names = ["gen_ai.request.model", "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
             "gen_ai.system", "gen_ai.operation.name", "llm.model_name", "user.id",
             "gen_ai.response.id", "http.status_code", "error.type"]  # fmt: skip
    attributes = [_attribute(n, draw(span_value)) for n in names if draw(st.booleans())]
    return Span(
        trace_id=draw(st.binary(min_size=16, max_size=16)),
        span_id=draw(st.binary(min_size=8, max_size=8)),
        name=draw(good_text),
        start_time_unix_nano=start,
        end_time_unix_nano=end,
        attributes=[_attribute("gen_ai.operation.name", "chat"), *attributes],
    )


@PROFILE
@given(spans=st.lists(span(), min_size=1, max_size=8))
def test_hostile_otlp_spans_never_5xx(app: InProcessApp, spans: list[Span]) -> None:
    request = ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=spans)])]
    )
    with app.client(app.key(f"o-{uuid.uuid4().hex[:10]}")) as c:
        r = c.post(
            "/v1/traces",
            content=request.SerializeToString(),
            headers={"Content-Type": "application/x-protobuf"},
        )
    assert r.status_code < 500, r.content[:2000]
    assert r.status_code in (200, 400, 413, 422), r.content[:2000]


@pytest.mark.parametrize("body", [b"[]", b"{}", b'{"events": {}}', b'{"events": [1, "x", null]}'])
def test_bodies_of_the_wrong_shape_are_4xx(app: InProcessApp, body: bytes) -> None:
    with app.client(app.key("shape")) as c:
        r = c.post("/v1/events", content=body, headers={"Content-Type": "application/json"})
    assert 400 <= r.status_code < 500, r.text
