"""What one commit changed, per project, for Live dashboards (issue 12).

Computed on the writer thread from the committed Arrow table (a few vectorised group-bys, no
SQL), encoded once, and sent as it is to every subscribed tab (web/live_stream.py). Only
figures that add up across commits travel: counts and sums per project and per UTC minute
(a page folds minutes into its hour or day buckets), and the newest calls' display fields.
Percentiles and distinct counts cannot be merged from deltas: panels showing them refresh on
a short debounce instead.
"""

from __future__ import annotations

from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

NEWEST_CALLS = 25  # the most calls one delta carries per project, newest first
MAX_MINUTES = 60  # a batch spanning more minutes (a backfill) sends its newest 60 only
CALL_FIELDS = (
    "id", "timestamp", "prompt_id", "model", "status", "error_type", "latency_ms",
    "input_tokens", "output_tokens", "cost_usd",
)  # fmt: skip
SUMS = ("input_tokens", "output_tokens", "cached_tokens", "cost_usd")
_JSON = orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z  # stored timestamps are naive UTC


def project_deltas(calls: pa.Table) -> dict[str, dict[str, Any]]:
    """{project: delta} for the calls one commit newly stored (duplicates already left out)."""
    if calls.num_rows == 0:
        return {}
    figures = _figures(calls)
    totals = _grouped(figures, ["project"])
    minutes = _grouped(figures, ["project", "minute"])
    out: dict[str, dict[str, Any]] = {}
    for row in totals:
        project = row.pop("project")
        out[project] = {"project": project, **row, "minutes": [], "minutes_complete": True}
    for row in sorted(minutes, key=lambda r: r["minute"]):
        delta = out[row.pop("project")]
        row.pop("first"), row.pop("last")
        delta["minutes"].append({"t": row.pop("minute"), **row})
    for project, delta in out.items():
        if len(delta["minutes"]) > MAX_MINUTES:
            delta["minutes"] = delta["minutes"][-MAX_MINUTES:]
            delta["minutes_complete"] = False
        delta["calls"] = _newest(calls, project)
    return out


def encode(sequence: int, delta: dict[str, Any]) -> bytes:
    """One Server-Sent Event carrying one project's delta."""
    return event("delta", {"sequence": sequence, **delta})


def event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data, option=_JSON) + b"\n\n"


def _figures(calls: pa.Table) -> pa.Table:
    """Per call: the columns the sums need, an error flag, a priced flag and its UTC minute."""
    errors = pc.cast(pc.equal(calls.column("status"), "error"), pa.int64())
    unpriced = pc.cast(pc.is_null(calls.column("cost_usd")), pa.int64())
    hits = pc.cast(pc.fill_null(calls.column("cache_hit"), False), pa.int64())
    return pa.table(
        {
            "project": calls.column("project"),
            "minute": pc.floor_temporal(calls.column("timestamp"), unit="minute"),
            "timestamp": calls.column("timestamp"),
            "errors": pc.fill_null(errors, 0),
            "unpriced": unpriced,
            "cache_hits": hits,
            **{name: calls.column(name) for name in SUMS},
        }
    )


def _grouped(figures: pa.Table, keys: list[str]) -> list[dict[str, Any]]:
    aggregated = figures.group_by(keys).aggregate(
        [
            ("errors", "count"),
            ("errors", "sum"),
            ("unpriced", "sum"),
            ("cache_hits", "sum"),
            ("timestamp", "min"),
            ("timestamp", "max"),
            *((name, "sum") for name in SUMS),
        ]
    )
    rows = aggregated.to_pylist()
    for row in rows:
        row["requests"] = row.pop("errors_count")
        row["errors"] = row.pop("errors_sum")
        row["successes"] = row["requests"] - row["errors"]
        row["unpriced_requests"] = row.pop("unpriced_sum")
        row["cache_hits"] = row.pop("cache_hits_sum")
        row["first"] = row.pop("timestamp_min")
        row["last"] = row.pop("timestamp_max")
        for name in SUMS:
            row[name] = row.pop(f"{name}_sum") or 0
        row["tokens"] = row["input_tokens"] + row["output_tokens"]
    return rows


def _newest(calls: pa.Table, project: str) -> list[dict[str, Any]]:
    mine = calls.filter(pc.equal(calls.column("project"), project))
    if mine.num_rows > NEWEST_CALLS:
        top = pc.select_k_unstable(mine, NEWEST_CALLS, [("timestamp", "descending")])
        mine = mine.take(top)
    newest = mine.select(list(CALL_FIELDS)).to_pylist()
    newest.sort(key=lambda c: c["timestamp"], reverse=True)
    return newest
