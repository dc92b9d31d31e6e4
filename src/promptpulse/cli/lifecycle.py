"""CLI verbs of the data lifecycle: `rollups`, `retention`, `export` (and `report`).

`rollups` and `retention apply|erase` open the data directory themselves (for cron, with the
server stopped: DuckDB admits one process); the server runs the same code in its background
loops and over the API. `retention show|set` only touch the metadata database and work while the
server runs. `export` talks to a running server over HTTP and shows a progress bar.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from promptpulse.cli.remote import DEFAULT_URL, Key, Url, _client, _problem
from promptpulse.config import Settings
from promptpulse.errors import StoreUnavailable

console = Console()
err = Console(stderr=True)
rollups_app = typer.Typer(
    help="Hourly and daily rollups: status, compact, rebuild.", no_args_is_help=True
)
retention_app = typer.Typer(
    help="Retention policies, applying them, erasure.", no_args_is_help=True
)

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory (env PROMPTPULSE_DATA_DIR)")
]
When = Annotated[str | None, typer.Option("--now", help="Pretend it is this time (RFC 3339)")]


def _settings(data_dir: Path | None) -> Settings:
    values: dict[str, Any] = {"data_dir": data_dir} if data_dir else {}
    return Settings(**values)


@contextmanager
def _store(settings: Settings) -> Iterator[Any]:
    from promptpulse.store import open_store

    try:  # maintenance may take long: no query time limit to speak of
        store = open_store(settings.model_copy(update={"query_timeout_s": 3600.0}))
    except StoreUnavailable as exc:
        raise StoreUnavailable(
            f"{exc.detail}. Is the server running on this data directory? Stop it, or use the "
            "API (POST /v1/rollups/rebuild, /v1/retention/apply, /v1/erasure) with an admin key."
        ) from exc
    try:
        yield store
    finally:
        store.close()


def _time(value: str | None, name: str) -> datetime:
    from promptpulse.query.parse import parse_time

    return parse_time(value, name) if value else datetime.now(UTC)


@rollups_app.command("rebuild")
def rollups_rebuild(
    frm: Annotated[str, typer.Option("--from", help="Start (RFC 3339 or a date); whole days")],
    to: Annotated[str, typer.Option(help="End, exclusive (RFC 3339 or a date)")],
    project: Annotated[str | None, typer.Option(help="Only this project")] = None,
    data_dir: DataDir = None,
) -> None:
    """Rebuild rollups of whole days from raw calls (never before the raw retention horizon)."""
    with _store(_settings(data_dir)) as store:
        done = store.rebuild_rollups(_time(frm, "from"), _time(to, "to"), project)
    for p, n in done.items():
        console.print(f"{p}: rebuilt from {n} calls")
    if not done:
        console.print("nothing to rebuild in that range")


@rollups_app.command("compact")
def rollups_compact(data_dir: DataDir = None, now: When = None) -> None:
    """Fold the fragments of closed hours and days (what the server does every minute)."""
    from promptpulse.rollups import compact_once

    settings = _settings(data_dir)
    with _store(settings) as store:
        done = compact_once(store, _time(now, "now"), settings.rollup_grace_s)
    console.print(f"compacted {done['hour']} hours, {done['day']} days")


@rollups_app.command("status")
def rollups_status(data_dir: DataDir = None) -> None:
    """Rows, uncompacted fragments and range of each rollup level; raw horizons."""
    with _store(_settings(data_dir)) as store:
        console.print_json(json.dumps(store.rollup_stats(), default=str))


def _service(settings: Settings, store: Any) -> Any:
    from promptpulse.meta import MetaDB
    from promptpulse.retention import RetentionService

    return RetentionService(
        MetaDB(settings.metadata_db_url).engine, store, settings, lambda: datetime.now(UTC)
    )


@retention_app.command("show")
def retention_show(
    project: Annotated[str | None, typer.Option()] = None, data_dir: DataDir = None
) -> None:
    """Defaults and per-project overrides (days; 0 keeps forever)."""
    settings = _settings(data_dir)
    console.print_json(json.dumps(_service(settings, None).policies(project)))


@retention_app.command("set")
def retention_set(
    project: str,
    raw_days: Annotated[int | None, typer.Option(help="Days raw calls are kept")] = None,
    hourly_days: Annotated[int | None, typer.Option(help="Days hourly rollups are kept")] = None,
    daily_days: Annotated[int | None, typer.Option(help="Days daily rollups are kept")] = None,
    data_dir: DataDir = None,
) -> None:
    """Override a project's retention (omit all three to go back to the defaults)."""
    settings = _settings(data_dir)
    out = _service(settings, None).set_override(
        project, {"raw_days": raw_days, "hourly_days": hourly_days, "daily_days": daily_days}
    )
    console.print_json(json.dumps(out))


@retention_app.command("apply")
def retention_apply(data_dir: DataDir = None, now: When = None) -> None:
    """Delete what the policies say is too old, and print what went."""
    settings = _settings(data_dir)
    with _store(settings) as store:
        done = _service(settings, store).apply(_time(now, "now"))
    for d in done:
        console.print(
            f"{d['data_class']:>4} before {d['before']} "
            f"({d['project'] or 'all projects'}): {d['deleted']} deleted"
        )


@retention_app.command("erase")
def retention_erase(
    project: Annotated[str, typer.Option(help="The project")],
    user_id: Annotated[str | None, typer.Option(help="Only this user's calls")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask")] = False,
    data_dir: DataDir = None,
) -> None:
    """Right to erasure: delete a project's data, or one user's calls in it."""
    what = f"user {user_id} in project {project}" if user_id else f"ALL data of project {project}"
    if not yes and not typer.confirm(f"Delete {what}?"):
        raise typer.Exit(1)
    settings = _settings(data_dir)
    with _store(settings) as store:
        out = _service(settings, store).erase(project, user_id)
    console.print(f"erased {what}: {out['calls']} calls")


def export(
    frm: Annotated[str, typer.Option("--from", help="RFC 3339 start")],
    to: Annotated[str, typer.Option(help="RFC 3339 end (exclusive)")],
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
    """Export calls or rollups from a running server: a job, a progress bar, the file and its
    manifest (sha256 checked) saved in --out."""
    if not api_key:
        raise typer.BadParameter("give --api-key or set PROMPTPULSE_API_KEY")
    chosen: dict[str, list[str]] = {}
    for f in filters or []:
        name, sep, value = f.partition("=")
        if not sep:
            raise typer.BadParameter(f"--filter '{f}' must look like name=value")
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
    with _client(url, api_key) as client:
        r = client.post("/v1/exports", json=body)
        if r.status_code != 202:
            err.print(f"[red]{_problem(r)}[/red]")
            raise typer.Exit(2)
        job = r.json()
        with Progress(
            TextColumn("[bold]export"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.completed:,.0f}/{task.total:,.0f} rows"),
            TimeRemainingColumn(),
            console=err,
        ) as progress:
            task = progress.add_task("export", total=None)
            while job["status"] in ("queued", "running"):
                time.sleep(0.2)
                job = client.get(f"/v1/exports/{job['id']}").json()
                p = job["progress"]
                progress.update(task, total=p["rows_total"], completed=p["rows_written"])
        if job["status"] != "done":
            err.print(f"[red]export failed: {job.get('error')}[/red]")
            raise typer.Exit(2)
        manifest = job["manifest"]
        entry = manifest["files"][0]
        out.mkdir(parents=True, exist_ok=True)
        target = out / entry["name"]
        import hashlib

        sha = hashlib.sha256()
        with (
            client.stream("GET", f"/v1/exports/{job['id']}/download") as resp,
            target.open("wb") as fh,
        ):
            for chunk in resp.iter_bytes():
                sha.update(chunk)
                fh.write(chunk)
        if sha.hexdigest() != entry["sha256"]:
            err.print(f"[red]{target}: sha256 does not match the manifest[/red]")
            raise typer.Exit(2)
        (out / (target.name + ".manifest.json")).write_text(json.dumps(manifest, indent=2))
    console.print(f"{manifest['row_count']} rows → {target} (sha256 {entry['sha256'][:16]}…)")


def register(app: typer.Typer) -> None:
    app.add_typer(rollups_app, name="rollups")
    app.add_typer(retention_app, name="retention")
    app.command("export")(export)
