"""The fast reader (msgspec) against pydantic on random bodies: the same accepted columns, the
same rejected items with the same errors, the same batch-level error, whichever reads the body.

Bodies are valid calls with random damage: wrong types, missing fields, NaN and Infinity, huge
numbers, times in rare or wrong forms, unknown fields, over-long strings, metadata orjson cannot
store, duplicate keys. The fast reader must also really take the clean bodies (else this test
would compare pydantic with itself).
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import pytest

pytest.importorskip("msgspec")

from promptpulse.ingest import pipeline
from promptpulse.ingest.fast_schema import fast_events
from promptpulse.model import PriceOverride
from tests.ingest.test_hostile_values import HOSTILE_EVENTS
from tests.ingest.test_validation import BAD_EVENTS

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
MODELS = ["gpt-4o-mini", "claude-sonnet-4-5", "my-finetune", "gemini-2.0-flash"]
RAW = "\x00raw:"  # a placeholder for a JSON token orjson will not write (NaN, 1e400, ...)

# Values that break one field, by field; RAW-prefixed ones are inserted as raw JSON.
DAMAGE: dict[str, list[Any]] = {
    "timestamp": [
        None,
        1748865600,
        "2026-05-31T12:00:00",
        "2026-05-31",
        "noon",
        "2026-02-30T00:00:00Z",
        "2026-05-31t12:00:00z",
        "2026-05-31 12:00:00+02:00",
        "2026-05-31T12:00:00.1234567Z",
        "2026-05-31T12:00:00.9999999+01:00",
        "2026-05-31T12:00Z",
        "2026-05-31T12:00:00,5Z",
        "2026-05-31T12:00:00+0100",
        "2026-05-31T24:00:00Z",
        "2026-05-31T12:00:60Z",
        "1999-12-31T23:59:59Z",
        "0001-01-01T00:00:00+01:00",
        "2026-06-03T12:00:00Z",
        "2026-05-31T12:00:00.5-23:59",
        "20260531T120000Z",
        "2026-05-31T12:00:00.Z",
    ],
    "model": [None, "", "m" * 201, 5, ["gpt-4o"], "é" * 200],
    "latency_ms": [
        None,
        -1,
        "12",
        True,
        RAW + "NaN",
        RAW + "Infinity",
        RAW + "1e400",
        RAW + "-0.0",
        10**30,
        RAW + "1e-400",
        2**63,
    ],
    "id": ["", "x" * 129, 5, None, "x" * 128],
    "project": ["p" * 101, "other", 7],
    "prompt_version": ["v" * 65, "v" * 64, False],
    "provider": ["p" * 65, "OpenAI", "openai"],
    "tags": [["t"] * 33, ["t" * 201], "tag", [1], None, [None]],
    "metadata": [
        {"n": 10**23},
        {"a": [{"n": -(10**30)}]},
        "text",
        [1],
        {"big": "x" * 17_000},
        {},
        {"x": RAW + "1e400"},
        {"deep": 1.5, "u": "\u2603"},
    ],
    "status": ["ok", None, "error"],
    "error_type": ["oops", "timeout", None],
    "error_message": ["e" * 3000, 5],
    "http_status": [99, 600, 200.0, "200", True],
    "input_tokens": [-1, 1.0, "5", True, 2**62 + 1, 2**62, RAW + "NaN"],
    "cached_tokens": [10**9, 1],
    "cache_write_tokens": [10**9],
    "reasoning_tokens": [10**9],
    "cost_usd": [-0.5, RAW + "Infinity", "1", 0],
    "cache_hit": [1, "true", None],
    "retries": [1001, -1, 2.0],
    "ttft_ms": [None, -3, RAW + "NaN"],
    "unknown_field": [RAW + "NaN", {"x": 1}, 10**40],
}


def valid_event(rng: np.random.Generator, i: int) -> dict[str, Any]:
    event: dict[str, Any] = {
        "timestamp": f"2026-05-{int(rng.integers(1, 32)):02d}T{int(rng.integers(0, 24)):02d}:"
        f"{int(rng.integers(0, 60)):02d}:{int(rng.integers(0, 60)):02d}"
        + rng.choice(["Z", ".5Z", ".123456+02:00", "-05:30", ".000001Z"]),
        "model": MODELS[int(rng.integers(0, len(MODELS)))],
        "latency_ms": float(rng.lognormal(6, 1)) if rng.random() < 0.8 else int(rng.integers(0, 9)),
    }
    optional: dict[str, Any] = {
        "id": f"call-{i}-{int(rng.integers(0, 1 << 30))}",
        "prompt_id": f"prompt-{int(rng.integers(0, 5))}",
        "prompt_version": "v2",
        "environment": "production",
        "user_id": f"user-{int(rng.integers(0, 50))}",
        "session_id": "s-1",
        "service": "api",
        "feature": "chat",
        "response_model": "gpt-4o-mini-2024-07-18",
        "tags": ["a", "b"],
        "metadata": {"tier": "pro", "n": int(rng.integers(0, 100)), "f": 0.1, "nested": [1, None]},
        "status": "error",
        "ttft_ms": float(rng.uniform(0, 500)),
        "queue_ms": 3,
        "input_tokens": int(rng.integers(0, 5000)),
        "output_tokens": int(rng.integers(0, 900)),
        "cost_usd": float(rng.uniform(0, 0.1)),
        "cache_hit": bool(rng.random() < 0.5),
        "retries": int(rng.integers(0, 3)),
        "http_status": 200,
        "error_message": "boom",
        "project": "proj",
    }
    for name, value in optional.items():
        if rng.random() < 0.5:
            event[name] = value
    if event.get("status") == "error" and rng.random() < 0.7:
        event["error_type"] = "rate_limit"
    if "input_tokens" in event and rng.random() < 0.3:
        event["cached_tokens"] = int(rng.integers(0, event["input_tokens"] + 1))
    return event


def damage(rng: np.random.Generator, event: dict[str, Any]) -> dict[str, Any]:
    field = list(DAMAGE)[int(rng.integers(0, len(DAMAGE)))]
    values = DAMAGE[field]
    value = values[int(rng.integers(0, len(values)))]
    if value is None and rng.random() < 0.5:
        event.pop(field, None)  # missing rather than null
    else:
        event[field] = value
    return event


def encode(events: list[dict[str, Any]], rng: np.random.Generator) -> bytes:
    raw_tokens: list[str] = []

    def placeholder(value: Any) -> Any:
        if isinstance(value, str) and value.startswith(RAW):
            raw_tokens.append(value[len(RAW) :])
            return f"@@RAW{len(raw_tokens) - 1}@@"
        if isinstance(value, dict):
            return {k: placeholder(v) for k, v in value.items()}
        if isinstance(value, list):
            return [placeholder(v) for v in value]
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
            raw_tokens.append(str(value))  # orjson writes no integer over 64 bits
            return f"@@RAW{len(raw_tokens) - 1}@@"
        return value

    body = orjson.dumps({"events": [placeholder(e) for e in events]})
    for n, token in enumerate(raw_tokens):
        body = body.replace(f'"@@RAW{n}@@"'.encode(), token.encode())
    if rng.random() < 0.05:  # a duplicate key: the last one counts, for both readers
        body = body.replace(b'"model":', b'"model":"first","model":', 1)
    return body


def outcome(body: bytes, fast: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    """What prepare_events makes of the body: the stored columns and the rejected items, or
    the batch-level error."""
    counter = itertools.count()
    monkeypatch.setattr(pipeline, "_new_id", lambda: f"new-{next(counter)}")
    monkeypatch.setattr(pipeline, "_fast_events", fast_events if fast else None)

    def overrides(project: str, model: str) -> PriceOverride | None:
        return None

    try:
        prepared = pipeline.prepare_events(
            body, key_project="proj", overrides=overrides, now=NOW, max_events=50
        )
    except Exception as exc:  # a batch-level answer (Invalid, TooLarge, BadRequest)
        return ("error", type(exc).__name__, str(exc), getattr(exc, "errors", None))
    return (prepared.table.to_pylist(), [r.as_dict() for r in prepared.rejected])


@pytest.mark.parametrize("seed", range(12))
def test_fast_and_pydantic_readers_agree_on_random_bodies(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(seed)
    taken_by_fast = 0
    for _ in range(150):
        events = [valid_event(rng, i) for i in range(int(rng.integers(1, 8)))]
        damaged = rng.random() < 0.7
        if damaged:
            for _ in range(int(rng.integers(1, 3))):
                i = int(rng.integers(0, len(events)))
                events[i] = damage(rng, events[i])
        body = encode(events, rng)
        fast = outcome(body, True, monkeypatch)
        slow = outcome(body, False, monkeypatch)
        assert fast == slow, body
        taken_by_fast += fast_events(body) is not None
    assert taken_by_fast >= 30, "the fast reader took almost no body: nothing was compared"


@pytest.mark.parametrize(
    "event",
    [e for _, e, _ in BAD_EVENTS + HOSTILE_EVENTS],
    ids=[c for c, _, _ in BAD_EVENTS + HOSTILE_EVENTS],
)
def test_every_known_bad_event_is_left_to_pydantic_or_rejected_alike(
    event: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    body = json.dumps({"events": [event, {**event, "id": "other"}]}).encode()
    assert outcome(body, True, monkeypatch) == outcome(body, False, monkeypatch)


def test_a_clean_body_is_read_by_the_fast_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    body = orjson.dumps({"events": [valid_event(rng, i) for i in range(50)], "extra": [1]})
    events = fast_events(body)
    assert events is not None and len(events) == 50
    assert outcome(body, True, monkeypatch) == outcome(body, False, monkeypatch)


@pytest.mark.parametrize(
    ("stamp", "taken"),
    [
        ("2026-05-31T12:00:00.1234567Z", False),  # pydantic truncates, msgspec would round
        ("2026-05-31T12:00:00.123456Z", True),
        ("2026-05-31T12:00:00", False),  # no offset
    ],
)
def test_which_times_the_fast_reader_takes(stamp: str, taken: bool) -> None:
    body = orjson.dumps({"events": [{"timestamp": stamp, "model": "m", "latency_ms": 12.3456789}]})
    assert (fast_events(body) is not None) is taken
