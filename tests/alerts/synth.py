"""Synthetic traffic for incident replays: daily seasonality, Poisson arrivals, lognormal
latency; deterministic per seed."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from tests.conftest import iso

Shape = Callable[[datetime], dict[str, float]]  # per-minute overrides during an incident


def seasonal(t: datetime) -> float:
    """Daily seasonality: 1 ± 0.5, lowest at 00:00 UTC, highest at 12:00."""
    return 1 + 0.5 * math.sin(2 * math.pi * (t.hour + t.minute / 60 - 6) / 24)


def traffic(
    prompt: str,
    start: datetime,
    end: datetime,
    per_min: float,
    seed: int,
    latency_ms: float = 800,
    error_rate: float = 0.005,
    cost: float = 0.002,
    shape: Shape | None = None,
    project: str | None = None,
) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    minutes = int((end - start).total_seconds() // 60)
    times = [start + timedelta(minutes=m) for m in range(minutes)]
    over = [shape(t) if shape else {} for t in times]
    rate = np.array(
        [per_min * seasonal(t) * o.get("traffic", 1.0) for t, o in zip(times, over, strict=True)]
    )
    counts = rng.poisson(rate)
    idx = np.repeat(np.arange(minutes), counts)
    n = len(idx)
    secs = rng.uniform(0, 60, n)
    lat_f = np.array([o.get("latency", 1.0) for o in over])[idx]
    err_p = np.array([o.get("error_rate", error_rate) for o in over])[idx]
    cost_f = np.array([o.get("cost", 1.0) for o in over])[idx]
    lat = latency_ms * lat_f * rng.lognormal(0, 0.25, n)
    failed = rng.random(n) < err_p
    base = start.timestamp()
    out: list[dict[str, Any]] = []
    for k in range(n):
        ts = datetime.fromtimestamp(base + idx[k] * 60 + secs[k], tz=start.tzinfo)
        ev: dict[str, Any] = {
            "id": f"{prompt}-{seed}-{k}",
            "timestamp": iso(ts),
            "model": "gpt-4o-mini",
            "prompt_id": prompt,
            "status": "error" if failed[k] else "success",
            "latency_ms": float(lat[k]),
            "input_tokens": 300,
            "output_tokens": 80,
            "cost_usd": float(cost * cost_f[k]),
        }
        if failed[k]:
            ev["error_type"] = "timeout"
        if project:
            ev["project"] = project
        out.append(ev)
    return out
