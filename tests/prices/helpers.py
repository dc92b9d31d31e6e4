"""Random calls of several models over several days, and an independent recomputation of
their costs: genai_prices.calc_price per call (at the call's own time) and the book entries,
in plain Python, nothing shared with promptpulse.prices."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from genai_prices import Usage, calc_price

from promptpulse.model import PriceEntry

MODELS = ["gpt-4o", "claude-3-5-sonnet-20241022", "gemini-2.5-pro", "acme-llm-1"]
DAY0 = datetime(2025, 6, 1, tzinfo=UTC)
DAYS = 6


def random_events(
    rng: np.random.Generator, project: str, n: int, day0: datetime = DAY0, days: int = DAYS
) -> list[dict[str, Any]]:
    """Calls of MODELS over `days` days from day0; one in ten gives its own cost."""
    events = []
    for i in range(n):
        inp = int(rng.integers(1, 300_000 if rng.random() < 0.1 else 5_000))
        event: dict[str, Any] = {
            "id": f"{project}-{i}",
            "project": project,
            "timestamp": (
                day0 + timedelta(seconds=float(rng.uniform(0, days * 86400)))
            ).isoformat(),
            "model": MODELS[int(rng.integers(len(MODELS)))],
            "latency_ms": 100,
            "input_tokens": inp,
            "cached_tokens": int(rng.integers(0, inp // 2 + 1)),
            "output_tokens": int(rng.integers(0, 2_000)),
        }
        if rng.random() < 0.1:
            event["cost_usd"] = round(float(rng.uniform(0, 1)), 6)
        events.append(event)
    return events


def body(events: list[dict[str, Any]]) -> bytes:
    return json.dumps({"events": events}).encode()


def expected_cost(
    call: dict[str, Any], entries: list[PriceEntry]
) -> tuple[float | None, str | None]:
    """(cost, provenance) of a stored call (a record with timestamp, model, provider, tokens,
    cost_usd, price_ref), the independent way."""
    if call["price_ref"] == "client":
        return call["cost_usd"], "client"
    ts = call["timestamp"]
    ts = ts if ts.tzinfo else ts.replace(tzinfo=UTC)
    day = ts.replace(hour=0, minute=0, second=0, microsecond=0)
    for e in entries:
        if e.project == call["project"] and e.price.model == call["model"] and e.covers(day):
            p = e.price
            cached = (
                p.input_per_mtok if p.cached_input_per_mtok is None else p.cached_input_per_mtok
            )
            cost = (
                (call["input_tokens"] - call["cached_tokens"]) * p.input_per_mtok
                + call["cached_tokens"] * cached
                + call["output_tokens"] * p.output_per_mtok
            ) / 1e6
            return cost, f"book:{e.id}"
    try:
        found = calc_price(
            Usage(
                input_tokens=call["input_tokens"],
                cache_read_tokens=call["cached_tokens"],
                output_tokens=call["output_tokens"],
            ),
            model_ref=call["model"],
            provider_id=call["provider"],
            genai_request_timestamp=ts.replace(tzinfo=None),
        )
    except LookupError:
        return None, None
    return float(Decimal(found.total_price)), f"genai-prices:{found.provider.id}/{found.model.id}"
