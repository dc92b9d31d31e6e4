"""`promptpulse query overview|timeseries|breakdown`: metrics from a running server, as rich
tables or the raw JSON."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from promptpulse.cli.output import console, figure_tables
from promptpulse.cli.ranges import Since, start
from promptpulse.cli.remote import (
    DEFAULT_URL,
    Key,
    Url,
    client,
    exit_on_problem,
    parse_filters,
    require_key,
)
from promptpulse.model import CATALOG, fmt

WHATS = ("overview", "timeseries", "breakdown")


def query(
    what: Annotated[str, typer.Argument(help="overview, timeseries or breakdown")],
    url: Url = DEFAULT_URL,
    api_key: Key = "",
    frm: Annotated[str | None, typer.Option("--from", help="RFC 3339 start")] = None,
    to: Annotated[str | None, typer.Option(help="RFC 3339 end (exclusive)")] = None,
    since: Since = None,
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
    if what not in WHATS:
        raise typer.BadParameter("choose overview, timeseries or breakdown")
    frm = start(since, frm, to)
    require_key(api_key)
    params: list[tuple[str, Any]] = [(k, v) for k, v in (("from", frm), ("to", to)) if v]
    params += parse_filters(filters or [])
    extra = {
        "by": by,
        "metrics": metrics,
        "interval": interval,
        "group_by": group_by,
        "sort": sort,
        "limit": str(limit) if limit else None,
    }
    params += [(k, v) for k, v in extra.items() if v]
    with client(url, api_key) as http:
        response = http.get(f"/v1/metrics/{what}", params=params)
    if response.status_code != 200:
        exit_on_problem(response)
    data = response.json()
    if as_json:
        print(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
        return
    {"overview": _print_overview, "timeseries": _print_series, "breakdown": _print_breakdown}[what](
        data
    )


def _unit(name: str) -> str | None:
    """The catalog unit of a column: a metric name, or an overview group such as latency_ms.p95."""
    top, _, sub = name.partition(".")
    for n in (name, sub, top):
        if n in CATALOG:
            return CATALOG[n].unit
    if top.endswith("_ms"):
        return "ms"
    if top.endswith("_usd"):
        return "usd"
    return {"tokens": "tokens", "errors_by_type": "count"}.get(top)


def _fmt(value: Any, name: str = "") -> str:
    """A figure by the one rule of `model.fmt`, in its catalog unit."""
    if value is None:
        return fmt.DASH
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    unit = _unit(name)
    return fmt.value(value, unit or ("count" if isinstance(value, int) else None))


def _when(iso: str) -> str:
    """An API time (RFC 3339, UTC) as a person reads it: to the minute, without the offset."""
    return iso.replace("T", " ")[:16]


def _print_overview(data: dict[str, Any]) -> None:
    # The range on a line of its own: as a table title it wraps mid-timestamp at 80 columns.
    console.print(f"{_when(data['from'])} → {_when(data['to'])} UTC")
    table = Table("metric", "value")
    for name, value in data.items():
        if name in ("from", "to", "previous"):
            continue
        if isinstance(value, dict):
            for sub, v in value.items():
                table.add_row(
                    f"{name}.{sub}", _fmt(v, f"{name}.{sub}") if not isinstance(v, dict) else str(v)
                )
        else:
            table.add_row(name, _fmt(value, name))
    console.print(table)


def _print_series(data: dict[str, Any]) -> None:
    for series in data["series"]:
        points = series["points"]
        if not points:
            continue
        names = [k for k in points[0] if k != "t"]
        title = f"group {series['group']}" if data.get("group_by") else data["interval"]
        rows = [[_when(p["t"]), *(_fmt(p[n], n) for n in names)] for p in points]
        for table in figure_tables("t (UTC)", names, rows, title=title):
            console.print(table)


def _print_breakdown(data: dict[str, Any]) -> None:
    rows = data["rows"]
    if not rows:
        console.print("no data in range")
        return
    key, *names = rows[0].keys()
    cells = [[_fmt(r[key], key), *(_fmt(r[n], n) for n in names)] for r in rows]
    for table in figure_tables(key, names, cells, title=f"by {data['by']}"):
        console.print(table)


def register(app: typer.Typer) -> None:
    app.command("query")(query)
