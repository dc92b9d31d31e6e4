"""`promptpulse rollups|retention`: the data lifecycle of one data directory.

`rollups` and `retention apply|erase` open the data directory themselves (for cron, with the
server stopped: DuckDB admits one process) and run the code the server runs in its background
loops and over the API (`compact_once`, the store's rebuild, `RetentionService`). `retention
show|set` only touch the metadata database and work while the server runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from promptpulse.cli.local import DataDir, metadata, settings_from, stopped_store
from promptpulse.cli.output import Json, console, listing, print_json
from promptpulse.cli.ranges import Since, start
from promptpulse.config import Settings

if TYPE_CHECKING:
    from promptpulse.retention import RetentionService
    from promptpulse.store import Store

rollups_app = typer.Typer(
    help="Hourly and daily rollups: status, compact, rebuild.", no_args_is_help=True
)
retention_app = typer.Typer(
    help="Retention policies, applying them, erasure.", no_args_is_help=True
)

When = Annotated[str | None, typer.Option("--now", help="Pretend it is this time (RFC 3339)")]


def _now() -> datetime:
    return datetime.now(UTC)


def _time(value: str | None, name: str) -> datetime:
    from promptpulse.query.parse import parse_time

    return parse_time(value, name) if value else _now()


@contextmanager
def _retention(settings: Settings, store: Store | None = None) -> Iterator[RetentionService]:
    """The server's retention service over this data directory (no store: policies only)."""
    from promptpulse.retention import RetentionService

    with metadata(settings) as meta:
        yield RetentionService(meta.engine, store, settings, _now)


@rollups_app.command("rebuild")
def rollups_rebuild(
    to: Annotated[str, typer.Option(help="End, exclusive (RFC 3339 or a date)")],
    frm: Annotated[
        str | None, typer.Option("--from", help="Start (RFC 3339 or a date); whole days")
    ] = None,
    since: Since = None,
    project: Annotated[str | None, typer.Option(help="Only this project")] = None,
    data_dir: DataDir = None,
) -> None:
    """Rebuild rollups of whole days from raw calls (never before the raw retention horizon)."""
    frm = start(since, frm, to)
    if frm is None:
        raise typer.BadParameter("give --from or --since (e.g. --since 7d)")
    with stopped_store(settings_from(data_dir)) as store:
        done = store.rebuild_rollups(_time(frm, "from"), _time(to, "to"), project)
    for p, n in done.items():
        console.print(f"{p}: rebuilt from {n} calls")
    if not done:
        console.print("nothing to rebuild in that range")


@rollups_app.command("compact")
def rollups_compact(data_dir: DataDir = None, now: When = None) -> None:
    """Fold the fragments of closed hours and days (what the server does every minute)."""
    from promptpulse.rollups import compact_once

    settings = settings_from(data_dir)
    with stopped_store(settings) as store:
        done = compact_once(store, _time(now, "now"), settings.rollup_grace_s)
    console.print(f"compacted {done['hour']} hours, {done['day']} days")


@rollups_app.command("status")
def rollups_status(data_dir: DataDir = None, as_json: Json = False) -> None:
    """Rows, uncompacted fragments and range of each rollup level; raw horizons (JSON)."""
    with stopped_store(settings_from(data_dir)) as store:
        stats = store.rollup_stats()
    if as_json:
        return print_json(stats)
    console.print_json(json.dumps(stats, default=str))


@retention_app.command("show")
def retention_show(
    project: Annotated[str | None, typer.Option()] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Defaults and per-project overrides (days; 0 keeps forever; `*`: an override)."""
    with _retention(settings_from(data_dir)) as service:
        policies = service.policies(project)
    if as_json:
        return print_json(policies)
    classes = ("raw_days", "hourly_days", "daily_days")
    rows = [("(defaults)", *(str(policies["defaults"][c]) for c in classes))]
    for name, p in policies["projects"].items():
        marked = (
            f"{p['effective'][c]}{'*' if p['override'].get(c) is not None else ''}" for c in classes
        )
        rows.append((name, *marked))
    console.print(listing(("project", "raw days", "hourly days", "daily days"), rows, wrap=()))


@retention_app.command("set")
def retention_set(
    project: str,
    raw_days: Annotated[int | None, typer.Option(help="Days raw calls are kept")] = None,
    hourly_days: Annotated[int | None, typer.Option(help="Days hourly rollups are kept")] = None,
    daily_days: Annotated[int | None, typer.Option(help="Days daily rollups are kept")] = None,
    data_dir: DataDir = None,
) -> None:
    """Override a project's retention (omit all three to go back to the defaults)."""
    days = {"raw_days": raw_days, "hourly_days": hourly_days, "daily_days": daily_days}
    with _retention(settings_from(data_dir)) as service:
        out = service.set_override(project, days)
    console.print_json(json.dumps(out))


@retention_app.command("apply")
def retention_apply(data_dir: DataDir = None, now: When = None) -> None:
    """Delete what the policies say is too old, and print what went."""
    settings = settings_from(data_dir)
    with stopped_store(settings) as store, _retention(settings, store) as service:
        done = service.apply(_time(now, "now"))
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
    settings = settings_from(data_dir)
    with stopped_store(settings) as store, _retention(settings, store) as service:
        out = service.erase(project, user_id)
    console.print(f"erased {what}: {out['calls']} calls")


def register(app: typer.Typer) -> None:
    app.add_typer(rollups_app, name="rollups")
    app.add_typer(retention_app, name="retention")
