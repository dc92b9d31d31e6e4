"""Query latency over a large store: overview, time series and breakdown, median of warm runs.

    .venv/bin/python -m bench.query --events 10000000 [--data-dir bench-data/q10m] [--runs 7]

Seeds the events table directly with DuckDB (the ingest path has its own benchmark), then
queries a real server over HTTP and prints medians and the server's memory.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench._common import Server, make_key, median_ms
from promptpulse.store.duck import DuckStore

END = datetime(2026, 11, 1, tzinfo=UTC)
DAYS = 30


def seed(data_dir: Path, events: int) -> None:
    store = DuckStore(data_dir / "events.duckdb", query_timeout_s=3600)
    have = store.execute("SELECT count(*) FROM events")[0][0]
    if have >= events:
        print(f"store already holds {have:,} events")
        store.close()
        return
    started = time.perf_counter()
    start = END - timedelta(days=DAYS)
    span_us = DAYS * 86_400_000_000
    # Rows in time order, as ingest writes them; realistic spreads for every column.
    store._con.execute(
        f"""
        INSERT INTO events BY NAME
        SELECT 'bench' AS project, 'e' || i AS id,
          TIMESTAMP '{start:%Y-%m-%d %H:%M:%S}' + to_microseconds(i * {span_us // events}) AS timestamp,
          'prompt-' || (hash(i) % 40) AS prompt_id, 'v' || (hash(i + 1) % 4) AS prompt_version,
          ['gpt-4o-mini','gpt-4o','claude-sonnet-4-5','gemini-2.0-flash','llama'][(1 + hash(i + 2) % 5)::BIGINT] AS model,
          ['openai','openai','anthropic','google','vllm'][(1 + hash(i + 2) % 5)::BIGINT] AS provider,
          CASE WHEN hash(i + 3) % 10 = 0 THEN 'staging' ELSE 'production' END AS environment,
          'f' || (hash(i + 4) % 8) AS feature, 'user-' || (hash(i + 5) % 5000) AS user_id,
          's-' || (hash(i + 6) % 200000) AS session_id, NULL AS service, []::VARCHAR[] AS tags,
          '{{"tier": "' || ['free','pro','enterprise'][(1 + hash(i + 7) % 3)::BIGINT] || '"}}' AS metadata,
          CASE WHEN hash(i + 8) % 40 = 0 THEN 'error' ELSE 'success' END AS status,
          CASE WHEN hash(i + 8) % 40 = 0 THEN ['timeout','rate_limit','llm_error','other'][(1 + hash(i + 9) % 4)::BIGINT] END AS error_type,
          NULL AS error_message, NULL AS http_status,
          round(exp(6.5 + 0.7 * sqrt(-2 * ln(random() + 1e-12)) * cos(2 * pi() * random())), 2) AS latency_ms,
          CASE WHEN hash(i + 10) % 3 = 0 THEN round(50 + random() * 900, 2) END AS ttft_ms,
          NULL AS queue_ms, (200 + hash(i + 11) % 3000)::BIGINT AS input_tokens,
          (20 + hash(i + 12) % 600)::BIGINT AS output_tokens, 0::BIGINT AS cached_tokens,
          0::BIGINT AS reasoning_tokens, random() * 0.01 AS cost_usd, hash(i + 13) % 20 = 0 AS cache_hit,
          0 AS retries, timestamp AS received_at
        FROM range({events}) t(i)
        """
    )
    # Raw rows went in behind the writer's back: build their rollups as the CLI would.
    store.rebuild_rollups(start, END, None)
    store._con.execute("CHECKPOINT")
    store.close()
    print(f"seeded {events:,} events in {time.perf_counter() - started:.1f} s")


# Keys of the final `RESULT {json}` line (read by bench.perf), per case label below.
RESULT_KEYS = {
    "overview, all 30 days": "overview",
    "overview, last 24 h": "overview_24h",
    "overview, 30 days, prompt filter": "overview_prompt",
    "timeseries hourly, 30 days (requests, p95, cost)": "hourly",
    "breakdown by model, 30 days": "breakdown_column",
    "breakdown by metadata.tier, 30 days": "breakdown_metadata",
    "breakdown by user (5,000 groups), 30 days": "breakdown_user",
}


def timed(client: httpx.Client, path: str, params: dict[str, str], runs: int) -> tuple[float, bool]:
    """Median ms of warm runs, and whether the answer came from rollups (approximate)."""
    first = client.get(path, params=params)  # warm
    first.raise_for_status()
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        r = client.get(path, params=params)
        samples.append(time.perf_counter() - t)
        r.raise_for_status()
    return median_ms(samples), bool(first.json().get("approximate"))


def _row(
    client: httpx.Client, label: str, path: str, params: dict[str, str], runs: int
) -> dict[str, float]:
    """One case, exact and by default: printed, and its figures by RESULT key."""
    exact, _ = timed(client, path, {**params, "exact": "true"}, runs)
    default, approx = timed(client, path, params, runs)
    note = " (rollups, approximate percentiles)" if approx else ""
    print(f"  {label:<52} {exact:9.1f} ms {default:9.1f} ms{note}")
    return {f"{RESULT_KEYS[label]}_exact_ms": exact, f"{RESULT_KEYS[label]}_default_ms": default}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    data_dir = args.data_dir or Path(f"bench-data/query-{args.events}")
    data_dir.mkdir(parents=True, exist_ok=True)
    seed(data_dir, args.events)
    key = make_key(data_dir, None, "admin")
    server = Server(data_dir)
    figures = {"idle_rss_mb": server.rss_mb()[0]}  # before any query: what start-up costs
    try:
        full = {"from": (END - timedelta(days=DAYS)).isoformat(), "to": END.isoformat()}
        last_day = {"from": (END - timedelta(days=1)).isoformat(), "to": END.isoformat()}
        cases = [
            ("overview, all 30 days", "/v1/metrics/overview", full),
            ("overview, last 24 h", "/v1/metrics/overview", last_day),
            (
                "overview, 30 days, prompt filter",
                "/v1/metrics/overview",
                {**full, "prompt_id": "prompt-7"},
            ),
            (
                "timeseries hourly, 30 days (requests, p95, cost)",
                "/v1/metrics/timeseries",
                {**full, "interval": "hour", "metrics": "requests,latency_p95_ms,cost_usd"},
            ),
            ("breakdown by model, 30 days", "/v1/metrics/breakdown", {**full, "by": "model"}),
            (
                "breakdown by metadata.tier, 30 days",
                "/v1/metrics/breakdown",
                {**full, "by": "metadata.tier"},
            ),
        ]
        # Many groups: percentiles by DuckDB's sort, not the two passes (grouped_quantiles.py).
        # Run after the table's memory row is read, which it would raise (~100 MB at 10 M).
        extra = [("breakdown by user (5,000 groups), 30 days", "/v1/metrics/breakdown",
                  {**full, "by": "user_id"})]  # fmt: skip
        with httpx.Client(
            base_url=server.url, timeout=120, headers={"Authorization": f"Bearer {key}"}
        ) as client:
            print(f"{args.events:,} events; median of {args.runs} warm runs over HTTP")
            print(f"  {'':<52} {'exact (raw)':>12} {'default':>12}")
            for label, path, params in cases:
                figures.update(_row(client, label, path, params, args.runs))
            rss, peak = server.rss_mb()  # the table's memory row: its queries alone
            print(f"  server RSS now {rss:.0f} MB, peak {peak:.0f} MB")
            for label, path, params in extra:
                figures.update(_row(client, label, path, params, args.runs))
        print(f"  server peak after the last row {server.rss_mb()[1]:.0f} MB")
        print("RESULT " + json.dumps({**figures, "rss_mb": rss, "peak_rss_mb": peak}))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
