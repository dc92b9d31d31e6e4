"""Seeding a store at 10 M / 100 M calls in SQL, inside the engine (no Python rows, no HTTP).

The calls follow the same distributions as `bench.store_backends.calls` (the generator the 1 M
figures were measured with), drawn from hashes of the row number instead of numpy's generator,
so the figures at 1 M / 10 M / 100 M are comparable: timestamps uniform over the 30 days,
5 models uniform, 2.5 % errors, 70 % project "bench", 40 prompts × 4 versions, 10 % staging,
8 features, 5,000 users, latency lognormal(6.5, 0.7) (Box-Muller), a TTFT on 30 %, input tokens
200–3,199, output 20–619, cost uniform in [0, 0.01), 5 % cache hits.

Rollups stay consistent with the calls: ClickHouse's materialized views fill them as each
INSERT … SELECT lands; DuckDB's are rebuilt afterwards with the store's own `rebuild_rollups` over the whole span in one
call (what the store does after an erasure), so both engines serve the same rollups the writer
would have produced. Benches only: this reaches into each store's connection.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

MODELS = ("gpt-4o-mini", "gpt-4o", "claude-sonnet-4-5", "gemini-2.0-flash", "llama")
CHUNK = 10_000_000  # rows per INSERT … SELECT: bounds the engine's memory per statement
SEED_MEMORY = "6GB"  # DuckDB's limit while the rollups are rebuilt (the machine has 24 GB)


def _columns(
    u: Callable[[int], str], i: str, ts: Callable[[str], str], text: Callable[[str], str]
) -> list[str]:
    """The SELECT list in CALL_SCHEMA's order; `u(k)` is the k-th uniform [0, 1) of row `i`,
    `ts` turns microseconds since the epoch into the engine's timestamp, `text` a number into a
    string."""
    models = ", ".join(f"'{m}'" for m in MODELS)
    model_ix = f"(1 + CAST(floor({u(5)} * 5) AS INTEGER))"
    gauss = f"(sqrt(-2 * ln(greatest({u(11)}, 1e-300))) * cos(2 * pi() * {u(12)}))"
    return [
        f"CASE WHEN {u(1)} < 0.7 THEN 'bench' ELSE 'other' END AS project",
        f"concat('e', {text(i)}) AS id",
        f"{ts('{start} + CAST(floor(' + u(2) + ' * {span}) AS BIGINT)')} AS timestamp",
        f"concat('prompt-', {text(f'floor({u(3)} * 40)')}) AS prompt_id",
        f"concat('v', {text(f'floor({u(4)} * 4)')}) AS prompt_version",
        f"[{models}][{model_ix}] AS model",
        f"CASE WHEN {model_ix} <= 2 THEN 'openai' ELSE 'other' END AS provider",
        f"CASE WHEN {u(6)} < 0.1 THEN 'staging' ELSE 'production' END AS environment",
        f"concat('f', {text(f'floor({u(7)} * 8)')}) AS feature",
        f"concat('user-', {text(f'floor({u(8)} * 5000)')}) AS user_id",
        "NULL AS session_id",
        "NULL AS service",
        "[] AS tags",
        f'CASE WHEN {u(9)} < 0.5 THEN \'{{"tier":"pro"}}\' ELSE \'{{"tier":"free"}}\' END '
        "AS metadata",
        f"CASE WHEN {u(10)} < 0.025 THEN 'error' ELSE 'success' END AS status",
        f"CASE WHEN {u(10)} < 0.025 THEN 'timeout' ELSE NULL END AS error_type",
        "NULL AS error_message",
        "NULL AS http_status",
        f"round(exp(6.5 + 0.7 * {gauss}), 2) AS latency_ms",
        f"CASE WHEN {u(13)} < 0.3 THEN 50 + 900 * {u(14)} ELSE NULL END AS ttft_ms",
        "NULL AS queue_ms",
        f"200 + CAST(floor({u(15)} * 3000) AS BIGINT) AS input_tokens",
        f"20 + CAST(floor({u(16)} * 600) AS BIGINT) AS output_tokens",
        "0 AS cached_tokens",
        "0 AS reasoning_tokens",
        f"{u(17)} * 0.01 AS cost_usd",
        f"{u(18)} < 0.05 AS cache_hit",
        "0 AS retries",
        "timestamp AS received_at",  # the alias above: the same instant
        "0 AS cache_write_tokens",
        "NULL AS response_model",
    ]


NAMES = [c.rsplit(" AS ", 1)[1] for c in _columns(lambda k: "0", "0", lambda s: s, str)]


def duckdb_select(offset: int, n: int, start: datetime, span: timedelta) -> str:
    def u(k: int) -> str:
        return f"(hash(i * 64 + {k}) / 18446744073709551616.0)"  # one mixed input

    cols = _columns(u, "i", lambda s: f"make_timestamp({s})", lambda x: f"CAST({x} AS BIGINT)")
    body = ",\n  ".join(cols)
    sql = f"SELECT\n  {body}\nFROM range({offset}, {offset + n}) t(i)"
    return sql.replace("{start}", str(_us(start))).replace("{span}", str(_us_span(span)))


def clickhouse_select(offset: int, n: int, start: datetime, span: timedelta) -> str:
    def u(k: int) -> str:
        return f"(cityHash64(number, {k}) / 18446744073709551616.)"

    cols = _columns(
        u,
        "number",
        lambda s: f"fromUnixTimestamp64Micro(toInt64({s}), 'UTC')",
        lambda x: f"toString(toInt64({x}))",
    )
    cols = [c.replace("timestamp AS received_at", "`timestamp` AS received_at") for c in cols]
    body = ",\n  ".join(cols)
    sql = f"SELECT\n  {body}\nFROM numbers({offset}, {n})"
    return sql.replace("{start}", str(_us(start))).replace("{span}", str(_us_span(span)))


def seed(store: Any, backend: str, offset: int, n: int, start: datetime, span: timedelta,
         say: Callable[[str], None] = print) -> float:  # fmt: skip
    """Calls e<offset>..e<offset+n-1> inserted in CHUNK-row statements, rollups made consistent;
    seconds taken (rollups included)."""
    began = time.perf_counter()
    insert_calls(store, backend, offset, n, start, span, say)
    if backend == "duckdb":
        rebuild_rollups(store, start, span, say)
    return time.perf_counter() - began


def insert_calls(store: Any, backend: str, offset: int, n: int, start: datetime, span: timedelta,
                 say: Callable[[str], None] = print) -> None:  # fmt: skip
    """The raw calls only, in CHUNK-row statements (ClickHouse's views also fill its rollups)."""
    began = time.perf_counter()
    names = ", ".join(f'"{c}"' if backend == "duckdb" else f"`{c}`" for c in NAMES)
    for lo in range(offset, offset + n, CHUNK):
        size = min(CHUNK, offset + n - lo)
        if backend == "duckdb":
            with store._cursor() as cur:
                cur.execute(f"INSERT INTO events ({names}) {duckdb_select(lo, size, start, span)}")
        else:  # the views fill rollup_hour / rollup_day from each block as it lands
            table = store.layout.local("events") if store.layout.cluster else "events"
            store._command(
                f"INSERT INTO {table} ({names}) {clickhouse_select(lo, size, start, span)}"
            )
        say(f"seeded {lo + size - offset:,} / {n:,} in {time.perf_counter() - began:.0f} s")


def rebuild_rollups(store: Any, start: datetime, span: timedelta,
                    say: Callable[[str], None] = print) -> float:  # fmt: skip
    """DuckDB's rollups of the whole span rebuilt by the store's own `rebuild_rollups`, in ONE
    call with the memory it needs for the duration; seconds taken.

    Why not a day at a time (as this did, 857 s at 10 M): the seeded timestamps are hashed, not
    in insertion order, so no row group's min/max prunes a day's filter and each of the 30 days
    × projects × 2 levels × 4 tables statements scanned every call (≈ 500 full scans at 10 M).
    One call over the span makes one scan per (project, level, table); its hash aggregates
    outgrow the store's 400 MB default, hence the raised limit (DuckDB spills past it)."""
    began = time.perf_counter()
    with store._cursor() as cur:
        before = cur.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        cur.execute(f"SET memory_limit = '{SEED_MEMORY}'")
    try:
        store.rebuild_rollups(start, start + span)
    finally:
        with store._cursor() as cur:
            cur.execute(f"SET memory_limit = '{before}'")
    took = time.perf_counter() - began
    say(f"rollups rebuilt in {took:.0f} s")
    return took


def _us(t: datetime) -> int:
    return int(t.timestamp() * 1_000_000)


def _us_span(span: timedelta) -> int:
    return int(span.total_seconds() * 1_000_000)
