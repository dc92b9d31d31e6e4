"""CLI verbs that talk to a running server over HTTP: `ingest` and `query`."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Annotated, Any

import httpx
import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

console = Console()
err = Console(stderr=True)

Url = Annotated[
    str, typer.Option(envvar="PROMPTPULSE_URL", help="Server URL (env PROMPTPULSE_URL)")
]
Key = Annotated[
    str,
    typer.Option(
        "--api-key", envvar="PROMPTPULSE_API_KEY", help="API key (env PROMPTPULSE_API_KEY)"
    ),
]
DEFAULT_URL = "http://127.0.0.1:8000"


def _client(url: str, api_key: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {api_key}"}, timeout=60)


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    lines = [f"HTTP {response.status_code}: {body.get('detail', body)}"]
    lines += [f"  {e['field']}: {e['message']}" for e in body.get("errors", [])]
    return "\n".join(lines)


def ingest(
    file: Annotated[Path, typer.Argument(help="A JSON Lines file: one call record per line")],
    url: Url = DEFAULT_URL,
    api_key: Key = "",
    batch_size: Annotated[int, typer.Option(help="Events per request (≤ 10,000)")] = 1000,
) -> None:
    """Send a JSONL file of calls; bad lines are reported by line number, good ones kept."""
    if not api_key:
        raise typer.BadParameter("give --api-key or set PROMPTPULSE_API_KEY")
    if not file.exists():
        raise typer.BadParameter(f"{file} does not exist")
    totals = {"accepted": 0, "duplicates": 0, "rejected": 0}
    bad: list[str] = []
    size = file.stat().st_size
    with (
        _client(url, api_key) as client,
        Progress(
            TextColumn("[bold]ingest"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[done]} sent"),
            TimeRemainingColumn(),
            console=err,
        ) as progress,
    ):
        task = progress.add_task("ingest", total=size, done=0)
        batch: list[tuple[int, Any]] = []
        with file.open("rb") as fh:
            for number, line in enumerate(fh, start=1):
                progress.advance(task, len(line))
                if not line.strip():
                    continue
                try:
                    batch.append((number, orjson.loads(line)))
                except orjson.JSONDecodeError as exc:
                    bad.append(f"line {number}: not JSON ({exc})")
                    totals["rejected"] += 1
                    continue
                if len(batch) >= batch_size:
                    _send(client, batch, totals, bad)
                    progress.update(task, done=totals["accepted"] + totals["duplicates"])
                    batch = []
            _send(client, batch, totals, bad)
            progress.update(task, done=totals["accepted"] + totals["duplicates"])
    for message in bad[:50]:
        err.print(f"[red]{message}[/red]")
    if len(bad) > 50:
        err.print(f"… and {len(bad) - 50} more")
    console.print(
        f"accepted {totals['accepted']}, duplicates {totals['duplicates']}, "
        f"rejected {totals['rejected']}"
    )
    if totals["rejected"]:
        raise typer.Exit(1)


def _send(
    client: httpx.Client, batch: list[tuple[int, Any]], totals: dict[str, int], bad: list[str]
) -> None:
    if not batch:
        return
    body = gzip.compress(orjson.dumps({"events": [e for _, e in batch]}), 1)
    for attempt in range(8):
        response = client.post(
            "/v1/events",
            content=body,
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )
        if response.status_code in (429, 503) and attempt < 7:
            import time

            time.sleep(float(response.headers.get("Retry-After", "1")))
            continue
        break
    if response.status_code not in (200, 207, 422):
        err.print(f"[red]{_problem(response)}[/red]")
        raise typer.Exit(2)
    result = response.json()
    totals["accepted"] += result.get("accepted", 0)
    totals["duplicates"] += result.get("duplicates", 0)
    for r in result.get("rejected", []):
        line = batch[r["index"]][0]
        reasons = "; ".join(f"{e['field']}: {e['message']}" for e in r["errors"])
        bad.append(f"line {line}: {reasons}")
        totals["rejected"] += 1


def _params(frm: str | None, to: str | None, filters: list[str]) -> list[tuple[str, Any]]:
    params: list[tuple[str, Any]] = [(k, v) for k, v in (("from", frm), ("to", to)) if v]
    for f in filters:
        name, sep, value = f.partition("=")
        if not sep:
            raise typer.BadParameter(f"--filter '{f}' must look like name=value")
        params.append((name, value))
    return params


def query(
    what: Annotated[str, typer.Argument(help="overview, timeseries or breakdown")],
    url: Url = DEFAULT_URL,
    api_key: Key = "",
    frm: Annotated[str | None, typer.Option("--from", help="RFC 3339 start")] = None,
    to: Annotated[str | None, typer.Option(help="RFC 3339 end (exclusive)")] = None,
    filters: Annotated[
        list[str] | None,
        typer.Option("--filter", "-f", help="name=value, repeatable (metadata.<key>=v too)"),
    ] = None,
    by: Annotated[str | None, typer.Option(help="breakdown: the dimension")] = None,
    metrics: Annotated[str | None, typer.Option(help="Comma list of catalog metrics")] = None,
    interval: Annotated[str | None, typer.Option(help="timeseries: minute…month")] = None,
    group_by: Annotated[str | None, typer.Option(help="timeseries: a dimension")] = None,
    sort: Annotated[str | None, typer.Option(help="breakdown: sort metric")] = None,
    limit: Annotated[int | None, typer.Option(help="breakdown: rows")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw JSON")] = False,
) -> None:
    """Ask a running server for metrics; a table, or --json."""
    if what not in ("overview", "timeseries", "breakdown"):
        raise typer.BadParameter("choose overview, timeseries or breakdown")
    if not api_key:
        raise typer.BadParameter("give --api-key or set PROMPTPULSE_API_KEY")
    params = _params(frm, to, filters or [])
    extra = {
        "by": by,
        "metrics": metrics,
        "interval": interval,
        "group_by": group_by,
        "sort": sort,
        "limit": str(limit) if limit else None,
    }
    params += [(k, v) for k, v in extra.items() if v]
    with _client(url, api_key) as client:
        response = client.get(f"/v1/metrics/{what}", params=params)
    if response.status_code != 200:
        err.print(f"[red]{_problem(response)}[/red]")
        raise typer.Exit(2)
    data = response.json()
    if as_json:
        print(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
        return
    {"overview": _print_overview, "timeseries": _print_series, "breakdown": _print_breakdown}[what](
        data
    )


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.1f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _print_overview(data: dict[str, Any]) -> None:
    table = Table("metric", "value", title=f"{data['from']} → {data['to']}")
    for name, value in data.items():
        if name in ("from", "to", "previous"):
            continue
        if isinstance(value, dict):
            for sub, v in value.items():
                table.add_row(f"{name}.{sub}", _fmt(v) if not isinstance(v, dict) else str(v))
        else:
            table.add_row(name, _fmt(value))
    console.print(table)


def _print_series(data: dict[str, Any]) -> None:
    for series in data["series"]:
        points = series["points"]
        if not points:
            continue
        names = [k for k in points[0] if k != "t"]
        title = f"group {series['group']}" if data.get("group_by") else data["interval"]
        table = Table("t", *names, title=title)
        for p in points:
            table.add_row(p["t"], *(_fmt(p[n]) for n in names))
        console.print(table)


def _print_breakdown(data: dict[str, Any]) -> None:
    rows = data["rows"]
    if not rows:
        console.print("no data in range")
        return
    table = Table(*rows[0].keys(), title=f"by {data['by']}")
    for r in rows:
        table.add_row(*(_fmt(v) for v in r.values()))
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
    app.command("query")(query)
