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

import numpy as np
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
ADDED = ("requests", "successes", "errors", "unpriced_requests", "cache_hits", "tokens", *SUMS)
_JSON = orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z  # stored timestamps are naive UTC


def project_deltas(calls: pa.Table) -> dict[str, dict[str, Any]]:
    """{project: delta} for the calls one commit newly stored (duplicates already left out)."""
    if calls.num_rows == 0:
        return {}
    out: dict[str, dict[str, Any]] = {}
    # One group-by per (project, minute); a project's totals are the sum of its minutes.
    for row in sorted(_grouped(_figures(calls)), key=lambda r: r["minute"]):
        project = row.pop("project")
        delta = out.get(project)
        if delta is None:
            delta = out[project] = _empty(project, row)
        first, last = row.pop("first"), row.pop("last")
        delta["first"] = min(delta["first"], first)
        delta["last"] = max(delta["last"], last)
        for name in ADDED:
            delta[name] += row[name]
        delta["minutes"].append({"t": row.pop("minute"), **row})
    newest = _newest(calls)
    for project, delta in out.items():
        if len(delta["minutes"]) > MAX_MINUTES:
            delta["minutes"] = delta["minutes"][-MAX_MINUTES:]
            delta["minutes_complete"] = False
        delta["calls"] = newest[project]
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


def _grouped(figures: pa.Table) -> list[dict[str, Any]]:
    aggregated = figures.group_by(["project", "minute"], use_threads=False).aggregate(
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


def _empty(project: str, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "project": project,
        **dict.fromkeys(ADDED, 0),
        "first": row["first"],
        "last": row["last"],
        "minutes": [],
        "minutes_complete": True,
    }


def _newest(calls: pa.Table) -> dict[str, list[dict[str, Any]]]:
    """Each project's newest calls' display fields, newest first: one sort, one take."""
    if pc.count_distinct(calls.column("project")).as_py() == 1:  # the usual batch: no sort
        top = pc.select_k_unstable(calls, NEWEST_CALLS, [("timestamp", "descending")])
        rows = _rows(calls.take(top))
        return {calls.column("project")[0].as_py(): rows}
    projects = pc.dictionary_encode(calls.column("project")).combine_chunks()
    codes = projects.indices.to_numpy(zero_copy_only=False)
    stamps = pc.cast(calls.column("timestamp"), pa.int64()).to_numpy()
    order = np.lexsort((-stamps, codes))  # by project, newest first within each
    ordered = codes[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(order)]
    chosen = [order[a : min(a + NEWEST_CALLS, b)] for a, b in zip(starts, ends, strict=True)]
    rows = _rows(calls.take(pa.array(np.concatenate(chosen))))
    names = projects.dictionary.to_pylist()
    out: dict[str, list[dict[str, Any]]] = {}
    offset = 0
    for a, picked in zip(starts, chosen, strict=True):
        out[names[ordered[a]]] = rows[offset : offset + len(picked)]
        offset += len(picked)
    return out


def _rows(calls: pa.Table) -> list[dict[str, Any]]:
    """The display fields as dicts (column by column: several times faster than to_pylist)."""
    columns = [calls.column(name).to_pylist() for name in CALL_FIELDS]
    return [dict(zip(CALL_FIELDS, values, strict=True)) for values in zip(*columns, strict=True)]
