"""`promptpulse export`: an export job on a running server, followed with a progress bar; the
file is downloaded next to its manifest, its sha256 checked against it."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from promptpulse.cli.output import console, err
from promptpulse.cli.ranges import Since, iso, start
from promptpulse.cli.remote import (
    DEFAULT_URL,
    Key,
    Url,
    client,
    exit_on_problem,
    parse_filters,
    require_key,
)

POLL_S = 0.2


def export(
    frm: Annotated[str | None, typer.Option("--from", help="RFC 3339 start")] = None,
    to: Annotated[str | None, typer.Option(help="RFC 3339 end, exclusive (default: now)")] = None,
    since: Since = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to save the file in")] = Path(
        "."
    ),
    fmt: Annotated[str, typer.Option("--format", help="csv, jsonl or parquet")] = "parquet",
    source: Annotated[str, typer.Option(help="calls, hourly or daily")] = "calls",
    filters: Annotated[
        list[str] | None, typer.Option("--filter", "-f", help="name=value, repeatable")
    ] = None,
    columns: Annotated[str | None, typer.Option(help="Comma list of columns")] = None,
    url: Url = DEFAULT_URL,
    api_key: Key = "",
) -> None:
    """Export calls or rollups from a running server into --out.

    A server-side job with a progress bar; the file and its manifest (sha256 checked) are saved."""
    frm = start(since, frm, to)
    if frm is None:
        raise typer.BadParameter("give --from or --since (e.g. --since 7d)")
    to = to or iso(datetime.now(UTC))
    require_key(api_key)
    body = _request(frm, to, fmt, source, filters or [], columns)
    with client(url, api_key) as http:
        r = http.post("/v1/exports", json=body)
        if r.status_code != 202:
            exit_on_problem(r)
        job = _follow(http, r.json())
        if job["status"] != "done":
            err.print(f"[red]export failed: {job.get('error')}[/red]")
            raise typer.Exit(2)
        manifest = job["manifest"]
        entry = manifest["files"][0]
        target = _download(http, job["id"], out, entry)
        (out / (target.name + ".manifest.json")).write_text(json.dumps(manifest, indent=2))
    console.print(f"{manifest['row_count']} rows → {target} (sha256 {entry['sha256'][:16]}…)")


def _request(
    frm: str, to: str, fmt: str, source: str, filters: list[str], columns: str | None
) -> dict[str, Any]:
    """The body of POST /v1/exports: repeated filters on one name become a list of values."""
    chosen: dict[str, list[str]] = {}
    for name, value in parse_filters(filters):
        chosen.setdefault(name, []).append(value)
    body: dict[str, Any] = {
        "format": fmt,
        "from": frm,
        "to": to,
        "filters": chosen,
        "source": source,
    }
    if columns:
        body["columns"] = [c.strip() for c in columns.split(",") if c.strip()]
    return body


def _follow(http: httpx.Client, job: dict[str, Any]) -> dict[str, Any]:
    """Poll the job until it is neither queued nor running, with a bar of rows written."""
    with Progress(
        TextColumn("[bold]export"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[rows]} rows"),
        TimeRemainingColumn(),
        console=err,
    ) as progress:
        task = progress.add_task("export", total=None, rows=_rows(0, None))
        while job["status"] in ("queued", "running"):
            time.sleep(POLL_S)
            job = http.get(f"/v1/exports/{job['id']}").json()
            done, total = job["progress"]["rows_written"], job["progress"]["rows_total"]
            progress.update(task, total=total, completed=done, rows=_rows(done, total))
    return job


def _rows(done: int, total: int | None) -> str:
    """Rows written of how many; the total is unknown (None) until the job has counted them."""
    return f"{done:,}/{'?' if total is None else f'{total:,}'}"


def _download(http: httpx.Client, job_id: str, out: Path, entry: dict[str, Any]) -> Path:
    """Stream the job's file into `out`; exit 2 if its sha256 is not the manifest's."""
    out.mkdir(parents=True, exist_ok=True)
    target = out / entry["name"]
    sha = hashlib.sha256()
    with (
        http.stream("GET", f"/v1/exports/{job_id}/download") as resp,
        target.open("wb") as fh,
    ):
        for chunk in resp.iter_bytes():
            sha.update(chunk)
            fh.write(chunk)
    if sha.hexdigest() != entry["sha256"]:
        err.print(f"[red]{target}: sha256 does not match the manifest[/red]")
        raise typer.Exit(2)
    return target


def register(app: typer.Typer) -> None:
    app.command("export")(export)
