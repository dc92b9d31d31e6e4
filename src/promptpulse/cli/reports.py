"""`promptpulse report`: the report of the last whole day, week or month, in the terminal.

From a running server (`--url`/`--api-key`, the JSON of `/v1/reports/preview`) or straight
from a data directory (`--data-dir`, server stopped: DuckDB admits one process). Either way
the same `Report` is rendered here: rich tables (`text`), or Markdown / HTML for a file.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from promptpulse.cli.local import metadata, settings_from, stopped_store
from promptpulse.cli.output import console
from promptpulse.cli.remote import DEFAULT_URL, Key, Url, client, exit_on_problem, require_key
from promptpulse.reports.model import Report
from promptpulse.reports.render import (
    HEADERS,
    MOVER_TITLES,
    _forecast_line,
    _period_line,
    _sections,
    render_html,
    render_markdown,
)


def _local(data_dir: Path, period: str, project: str | None, timezone: str,
           as_of: datetime | None) -> Report:  # fmt: skip
    """The report built by the server's own ReportService over a stopped data directory."""
    from promptpulse.reports import ReportService

    settings = settings_from(data_dir)
    with stopped_store(settings) as store, metadata(settings) as meta:
        service = ReportService(meta.engine, store, lambda: datetime.now(UTC), settings)
        return service.build(period, project=project, timezone=timezone, as_of=as_of)


def _remote(url: str, api_key: str, params: dict[str, Any]) -> Report:
    require_key(api_key, "give --api-key (or PROMPTPULSE_API_KEY), or --data-dir")
    with client(url, api_key) as http:
        r = http.get("/v1/reports/preview", params={**params, "format": "json"})
    if r.status_code != 200:
        exit_on_problem(r, labelled=True)
    return Report.from_dict(r.json())


def _table(title: str, header: list[str], rows: list[list[str]]) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold")
    for h in header:
        table.add_column(h)
    for row in rows:
        table.add_row(*row)
    return table


def print_rich(r: Report, out: Console) -> None:
    s = _sections(r)
    out.print(f"[bold]{r.title}[/bold]", highlight=False)
    out.print(_period_line(r), highlight=False, markup=False)
    rows = s["figures"]
    for f, row in zip(r.figures, rows, strict=True):
        colour = {True: "green", False: "red", None: ""}[f.better]
        if colour:
            row[-1] = f"[{colour}]{row[-1]}[/{colour}]"
    out.print(_table("Key figures", HEADERS["figures"], rows))
    shown = False
    for metric, title in MOVER_TITLES.items():
        if s.get(f"movers:{metric}"):
            shown = True
            out.print(_table(f"Top movers: {title}", HEADERS["movers"], s[f"movers:{metric}"]))
    if not shown:
        out.print(f"Top movers: no prompt with at least {r.min_requests} calls in both periods "
                  "changed.")  # fmt: skip
    out.print(_table("Alerts fired", HEADERS["alerts"], s["alerts"]) if r.alerts
              else "Alerts fired: none.")  # fmt: skip
    out.print(_table("Budgets", HEADERS["budgets"], s["budgets"]) if r.budgets
              else "Budgets: none.")  # fmt: skip
    out.print(f"[bold]Forecast[/bold] {_forecast_line(r) or '—'}", highlight=False)
    out.print("[bold]Recommendations[/bold]" + ("" if r.recommendations else " none."))
    for x in r.recommendations:
        out.print(f"• [bold]{x.title}.[/bold] {x.detail}", highlight=False)


def report(
    period: Annotated[str, typer.Option(help="day, week or month: the last whole one")] = "week",
    project: Annotated[
        str | None, typer.Option(help="One project (default: the key's, or all)")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="text, markdown or html")] = "text",
    timezone: Annotated[str, typer.Option(help="IANA time zone of the period")] = "UTC",
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="The last period complete at this time (RFC 3339)")
    ] = None,
    url: Url = DEFAULT_URL,
    api_key: Key = "",
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Read a data directory instead of a server")
    ] = None,
) -> None:
    """Print the report of the last whole day, week or month.

    Key figures against the period before, movers, alerts, budgets, forecast, recommendations."""
    if period not in ("day", "week", "month"):
        raise typer.BadParameter("--period: day, week or month")
    if fmt not in ("text", "markdown", "html"):
        raise typer.BadParameter("--format: text, markdown or html")
    if data_dir is not None:
        from promptpulse.query.parse import parse_time

        when = parse_time(as_of, "as_of") if as_of else None
        r = _local(data_dir, period, project, timezone, when)
    else:
        params = {"period": period, "timezone": timezone}
        params.update({k: v for k, v in (("project", project), ("as_of", as_of)) if v})
        r = _remote(url, api_key, params)
    if fmt == "markdown":
        typer.echo(render_markdown(r))
    elif fmt == "html":
        typer.echo(render_html(r))
    else:
        print_rich(r, console)


def register(app: typer.Typer) -> None:
    app.command("report")(report)
