"""Alerting figures: evaluation cost at 1,000 rules over 10 million events, detection delay of
each template on replayed incidents, false alarms in a quiet week.

    .venv/bin/python bench/alerts.py [--events 10000000] [--rules 1000] [--skip-cost]

Cost: seeds the event store directly (as bench/query.py does), stores 1,000 rules over 40
prompts (thresholds, changes and seasonal anomalies, windows 5 m to 1 h) and times evaluation
rounds in-process (cold: nothing cached; warm: the next round 30 s later, past windows cached).
Delays and false alarms: synthetic traffic with daily seasonality through the real ingest path
of a real server with a simulated clock (the replays of tests/alerts/test_incidents.py).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.query import END, seed
from promptpulse.alerts import AlertService, RuleIn
from promptpulse.alerts import repo as alerts_repo
from promptpulse.config import Settings
from promptpulse.meta import MetaDB
from promptpulse.store.duck import DuckStore

KINDS: list[dict[str, Any]] = [
    {"metric": "error_rate", "operator": ">", "threshold": 0.05},
    {"metric": "latency_p95_ms", "operator": ">", "threshold": 4000},
    {"metric": "success_rate", "operator": "<", "threshold": 0.9},
    {"metric": "cost_usd", "operator": "anomaly", "min_ratio": 1.5},
    {"metric": "requests", "operator": "anomaly", "direction": "down", "min_ratio": 2},
    {"metric": "latency_p95_ms", "operator": "anomaly", "min_ratio": 2},
    {"metric": "rpm", "operator": "<", "threshold": 1},
    {"metric": "ttft_p95_ms", "operator": ">", "threshold": 900},
    {"metric": "cost_per_request_usd", "operator": "increase", "threshold": 0.5},
    {"metric": "tokens", "operator": "increase", "threshold": 1.0, "baseline": "previous"},
]
WINDOWS = ["5m", "15m", "1h"]


def cost(events: int, rules: int, data_dir: Path) -> None:
    seed(data_dir, events)
    store = DuckStore(data_dir / "events.duckdb")
    meta = MetaDB(f"sqlite:///{data_dir / 'bench-alerts.sqlite'}")
    now = END - timedelta(minutes=1)
    clock = [now]
    svc = AlertService(meta.engine, store, lambda: clock[0], Settings(data_dir=data_dir))
    if not alerts_repo.list_rules(meta.engine):
        for i in range(rules):
            kind = KINDS[i % len(KINDS)]
            rule = RuleIn.model_validate(
                {
                    "name": f"rule {i}",
                    "window": WINDOWS[(i // len(KINDS)) % len(WINDOWS)],
                    "filters": {"project": "bench", "prompt_id": f"prompt-{i % 40}"},
                    **kind,
                }
            )
            alerts_repo.create_rule(meta.engine, rule, now)
    n = len(alerts_repo.list_rules(meta.engine))
    rounds = []
    for label in ("cold", "warm", "warm"):
        started = time.perf_counter()
        result, _ = svc.evaluate_round(clock[0])
        took = time.perf_counter() - started
        rounds.append(took)
        print(
            f"round ({label}): {n} rules, {result['subjects']} subjects, "
            f"{result['queries']} queries, {took:.2f} s = {took / n * 1000:.2f} ms/rule, "
            f"{len(result['changes'])} changes, {len(result['errors'])} errors"
        )
        clock[0] += timedelta(seconds=30)
    print(
        f"evaluation round of {n} rules over {events:,} events: cold {rounds[0]:.2f} s, "
        f"warm {min(rounds[1:]):.2f} s (target ≤ 5 s)"
    )
    store.close()
    meta.close()


def delays() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.alerts import test_incidents as inc
    from tests.alerts.conftest import make_alert_server
    from tests.alerts.synth import traffic
    from tests.conftest import stop_server

    step = timedelta(seconds=30)
    cases = [
        ("latency_spike", "lat", 1, timedelta(hours=10), 30, {"latency": 3.0}),
        ("error_rate_high", "err", 2, timedelta(hours=16), 20, {"error_rate": 0.3}),
        ("traffic_drop", "drop", 3, timedelta(days=1, hours=11), 60, {"traffic": 0.2}),
        ("cost_anomaly", "cost", 4, timedelta(days=2, hours=12), 90, {"cost": 4.0}),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        server, thread, srv = make_alert_server(Path(tmp), inc.NOW0)
        svc = srv.live.app.state.ctx.alerts  # type: ignore[attr-defined]
        try:
            for template, prompt, seed_, offset, minutes, shape in cases:
                start = inc.NOW0 + offset
                end = start + timedelta(minutes=minutes)
                inc._replay(srv, prompt, seed_, start, end, lambda t, s=shape: s)
                rid = inc._rule(srv, template, prompt)
                srv.clock.set(start - timedelta(minutes=10))
                fired = resolved = None
                while srv.clock() < end + timedelta(minutes=90) and resolved is None:
                    now = srv.clock.advance(seconds=step.total_seconds())
                    result, _ = svc.evaluate_round()
                    for c in result["changes"]:
                        if c["source_id"] == rid and c["to"] == "firing" and fired is None:
                            fired = now
                        if c["source_id"] == rid and c["to"] == "resolved" and fired:
                            resolved = now
                print(
                    f"{template:16s} incident {minutes:3d} min: detected after "
                    f"{_m(fired, start)}, resolved {_m(resolved, end)} after recovery "
                    f"(evaluation every {step.total_seconds():g} s)"
                )
            week = inc.NOW0 + timedelta(days=7)
            srv.clock.set(week + timedelta(weeks=1))  # ingest takes calls up to 24 h ahead
            srv.ingest(
                traffic("quiet", week - timedelta(weeks=4), week + timedelta(weeks=1), 3, 99)
            )
            ids = {
                inc._rule(srv, name, "quiet")
                for name in (
                    "traffic_spike",
                    "traffic_drop",
                    "latency_spike",
                    "error_rate_high",
                    "cost_anomaly",
                    "success_rate_low",
                )
            }
            srv.clock.set(week)
            quiet_step = timedelta(minutes=10)
            firing = pending = rounds = 0
            took = 0.0
            while srv.clock() < week + timedelta(weeks=1):
                srv.clock.advance(seconds=quiet_step.total_seconds())
                t = time.perf_counter()
                result, _ = svc.evaluate_round()
                took += time.perf_counter() - t
                rounds += 1
                for c in result["changes"]:
                    if c["source_id"] in ids:
                        firing += c["to"] == "firing"
                        pending += c["to"] == "pending"
            print(
                f"quiet week, 6 template rules, {rounds} rounds every "
                f"{quiet_step.total_seconds() / 60:g} min: {firing} false alarms/week "
                f"({pending} pending that never fired); {took / rounds * 1000:.1f} ms/round"
            )
        finally:
            stop_server(server, thread)


def _m(t: datetime | None, ref: datetime) -> str:
    return "never" if t is None else f"{(t - ref).total_seconds() / 60:.1f} min"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--skip-cost", action="store_true")
    parser.add_argument("--skip-delays", action="store_true")
    args = parser.parse_args()
    if not args.skip_cost:
        data_dir = args.data_dir or Path(f"bench-data/alerts{args.events // 1_000_000}m")
        data_dir.mkdir(parents=True, exist_ok=True)
        cost(args.events, args.rules, data_dir)
    if not args.skip_delays:
        delays()


if __name__ == "__main__":
    _ = UTC
    main()
