"""`alerts apply --dry-run`: each rule's, budget's and SLO's backtest over the last days, so a
change is judged by what it would have done before it is saved. Through a running server's API
when a key is given (`--api-key`/PROMPTPULSE_API_KEY), else on the data directory's store (its
server stopped: DuckDB admits one process)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from promptpulse.cli.local import settings_from, stopped_store
from promptpulse.cli.output import console
from promptpulse.cli.remote import call

PATHS = {"rules": "/v1/alerts/rules/backtest", "budgets": "/v1/budgets/backtest",
         "slos": "/v1/slos/backtest"}  # fmt: skip
STEPS = {"rules": timedelta(minutes=1), "budgets": timedelta(hours=1), "slos": timedelta(minutes=5)}
SHOWN = 5  # firings listed per object


def show_backtests(
    parsed: dict[str, list[Any]],
    days: int,
    data_dir: Path | None,
    url: str,
    api_key: str,
    ratios: dict[tuple[str | None, str], Any] | None = None,
) -> list[dict[str, Any]]:
    """Backtest every object of the document over the last `days` days and print each answer.
    `ratios`: custom SLIs' terms by (project, name), for the local backtests."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now - timedelta(days=days)
    answers = []
    if api_key:
        for kind, specs in parsed.items():
            for spec in specs:
                params = {"from": _iso(start), "to": _iso(now)}
                body = spec.model_dump(by_alias=True, mode="json", exclude_none=True)
                got = call(url, api_key, "POST", PATHS[kind], params=params, json=body)
                answers.append(_said(kind, spec, got, days))
        return answers
    with stopped_store(settings_from(data_dir)) as store:
        for kind, specs in parsed.items():
            for spec in specs:
                args: tuple[Any, ...] = (store, spec, start, now, STEPS[kind], now)
                if kind == "slos":
                    args += ((ratios or {}).get((spec.project, spec.name)),)
                got = _local(kind)(*args)
                answers.append(_said(kind, spec, got, days))
    return answers


def _local(kind: str) -> Callable[..., dict[str, Any]]:
    from promptpulse.alerts import backtest_rule
    from promptpulse.budgets import backtest_budget
    from promptpulse.slos import backtest_slo

    runs: dict[str, Callable[..., dict[str, Any]]] = {
        "rules": backtest_rule, "budgets": backtest_budget, "slos": backtest_slo
    }  # fmt: skip
    return runs[kind]


def _said(kind: str, spec: BaseModel, got: dict[str, Any], days: int) -> dict[str, Any]:
    name = getattr(spec, "name", "?")
    what = kind.rstrip("s").replace("slo", "SLO")
    times = f"{got['count']} time{'s' if got['count'] != 1 else ''}"
    how = f"{got['calls']:,} calls, step {got['step']}" + (
        ", coarsened" if got["coarsened"] else ""
    )
    console.print(
        f"backtest {what} {name}: over the last {days} days it would have fired {times}, "
        f"for {got['minutes']:g} minutes in all ({how})",
        highlight=False,
    )
    for f in got["firings"][:SHOWN]:
        end = f["end"] or "still firing"
        console.print(
            f"  {f['start']} → {end}  {f['subject']}  value {f['value']}", highlight=False
        )
    if len(got["firings"]) > SHOWN:
        console.print(f"  … and {len(got['firings']) - SHOWN} more", highlight=False)
    for w in got.get("warnings", []):
        console.print(f"  note: {w}", highlight=False)
    return {"kind": kind, "name": name, **got}


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")
