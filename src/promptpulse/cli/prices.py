"""`promptpulse prices set|list|delete`: per-project prices (the price book, since always) in
the metadata database, which a running server picks up within two seconds; `prices reprice`
asks the running server to reprice stored calls."""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from promptpulse.cli.local import DataDirOrDefault, metadata, settings_from
from promptpulse.cli.output import Json, console, err, listing, print_json
from promptpulse.cli.remote import DEFAULT_URL, Key, Url, call

DRY_RUN_WAIT_S = 600.0
FOLLOW_EVERY_S = 1.0
FOLLOW_FOR_S = 3600.0

if TYPE_CHECKING:
    from promptpulse.model import PriceEntry

prices_app = typer.Typer(
    help="Per-project price overrides (USD per million tokens).", no_args_is_help=True
)


@prices_app.command("set")
def prices_set(
    model: str,
    project: Annotated[str, typer.Option(help="Project the price applies to")],
    input_per_mtok: Annotated[float, typer.Option("--input", help="USD per 1M input tokens")],
    output_per_mtok: Annotated[float, typer.Option("--output", help="USD per 1M output tokens")],
    cached_per_mtok: Annotated[
        float | None,
        typer.Option("--cached", help="USD per 1M cached input tokens (default: the input price)"),
    ] = None,
    data_dir: DataDirOrDefault = None,
) -> None:
    """Set a model's price for a project; new calls use it within two seconds."""
    from promptpulse.meta import set_price
    from promptpulse.model import PriceOverride

    price = PriceOverride(model, input_per_mtok, output_per_mtok, cached_per_mtok)
    with metadata(settings_from(data_dir)) as meta:
        set_price(meta, project, price)
    console.print(
        f"price of {model} in {project}: ${input_per_mtok}/M input, ${output_per_mtok}/M output"
    )


@prices_app.command("list")
def prices_list(
    project: Annotated[str | None, typer.Option()] = None,
    data_dir: DataDirOrDefault = None,
    as_json: Json = False,
) -> None:
    """List the price book's entries (a model may have several, for other periods)."""
    from promptpulse.meta import list_entries

    with metadata(settings_from(data_dir)) as meta:
        found = list_entries(meta, project)
    if as_json:
        return print_json({"prices": [_entry_json(e) for e in found]})
    rows = [
        (
            str(e.id),
            e.project,
            e.price.model,
            _day(e.valid_from, "always"),
            _day(e.valid_to, "open"),
            f"{e.price.input_per_mtok:g}",
            f"{e.price.output_per_mtok:g}",
            "" if e.price.cached_input_per_mtok is None else f"{e.price.cached_input_per_mtok:g}",
        )
        for e in found
    ]
    columns = ("id", "project", "model", "from", "to", "input $/M", "output $/M", "cached $/M")
    # `prices delete MODEL --project P` takes both back: neither is cut.
    console.print(listing(columns, rows, wrap=()))


def _day(t: datetime | None, none: str) -> str:
    return none if t is None else t.date().isoformat()


def _entry_json(e: PriceEntry) -> dict[str, object]:
    return {
        "id": e.id,
        "project": e.project,
        "model": e.price.model,
        "valid_from": None if e.valid_from is None else e.valid_from.isoformat(),
        "valid_to": None if e.valid_to is None else e.valid_to.isoformat(),
        "input_per_mtok": e.price.input_per_mtok,
        "output_per_mtok": e.price.output_per_mtok,
        "cached_input_per_mtok": e.price.cached_input_per_mtok,
    }


@prices_app.command("delete")
def prices_delete(
    model: str, project: Annotated[str, typer.Option()], data_dir: DataDirOrDefault = None
) -> None:
    """Remove every price entry of a model in a project."""
    from promptpulse.meta import delete_price

    with metadata(settings_from(data_dir)) as meta:
        delete_price(meta, project, model)
    console.print(f"removed the price of {model} in {project}")


@prices_app.command("reprice")
def prices_reprice(
    frm: Annotated[str, typer.Option("--from", help="Start, RFC 3339 (2026-11-01T00:00:00Z)")],
    to: Annotated[str, typer.Option("--to", help="End (exclusive), RFC 3339")],
    model: Annotated[str | None, typer.Option(help="Only this model")] = None,
    project: Annotated[str | None, typer.Option(help="Only this project")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only show the difference per model and day")
    ] = False,
    wait: Annotated[
        float,
        typer.Option(
            min=0,
            help="Seconds to follow a reprice the server goes on with (answered 202); still "
            "running after that: said, exit 1, and it continues on the server",
        ),
    ] = FOLLOW_FOR_S,
    url: Url = DEFAULT_URL,
    api_key: Key = "",
    as_json: Json = False,
) -> None:
    """Reprice stored calls with the price book (the running server does it).

    Shows the difference per model and day; without --dry-run the costs and rollups are
    rewritten, and the audit trail (GET /v1/prices/reprices) records it."""
    body = {"from": frm, "to": to, "model": model, "project": project, "dry_run": dry_run}
    # A dry run reads every call of the range before it answers: give it time.
    found = call(url, api_key, "POST", "/v1/prices/reprice", json=body, timeout=DRY_RUN_WAIT_S)
    if found.get("status") == "running":  # 202: the server goes on; follow the audit row
        found = _follow(url, api_key, found["id"], wait)
    if as_json:
        return print_json(found)
    rows = [
        (r["day"], r["model"], str(r["calls"]), str(r["repriced"]), f"{r['cost_before']:.6f}",
         f"{r['cost_after']:.6f}", f"{r['delta']:+.6f}")
        for r in found["rows"]
    ]  # fmt: skip
    t = found["totals"]
    rows.append(("total", "", str(t["calls"]), str(t["repriced"]), f"{t['cost_before']:.6f}",
                 f"{t['cost_after']:.6f}", f"{t['delta']:+.6f}"))  # fmt: skip
    columns = ("day", "model", "calls", "repriced", "before $", "after $", "delta $")
    console.print(listing(columns, rows, wrap=()))
    done = "dry run: nothing written" if dry_run else f"reprice {found['id']}: written"
    console.print(done)


def _follow(url: str, api_key: str, reprice_id: int, wait: float) -> dict[str, Any]:
    """Wait up to `wait` seconds for a reprice the server answered 202 for; its audit row, as
    the POST answers. Not done by then, or interrupted: said; the reprice continues."""
    where = f"GET /v1/prices/reprices/{reprice_id}"
    if wait > 0:
        err.print(f"reprice {reprice_id} is running on the server; waiting for it…")
    deadline = time.monotonic() + wait
    try:
        while True:
            if wait > 0:  # --wait 0: not followed at all
                row = call(url, api_key, "GET", f"/v1/prices/reprices/{reprice_id}")
                if row["status"] not in ("queued", "running"):
                    break
            if time.monotonic() >= deadline:  # asked once more at the deadline, above
                err.print(
                    f"reprice {reprice_id} is still running after {wait:g} s; it continues on "
                    f"the server ({where} says when it is done)"
                )
                raise typer.Exit(1)
            time.sleep(min(FOLLOW_EVERY_S, max(deadline - time.monotonic(), 0.0)))
    except KeyboardInterrupt:
        err.print(f"stopped waiting; reprice {reprice_id} continues on the server ({where})")
        raise typer.Exit(130) from None
    if row["status"] != "done":
        err.print(f"[red]error:[/red] reprice {reprice_id} {row['status']}: {row['error']}")
        raise typer.Exit(1)
    totals = {k: row[k] for k in ("calls", "repriced", "cost_before", "cost_after", "delta")}
    return {"id": reprice_id, "status": "done", "rows": row["per_day"], "totals": totals}


def register(app: typer.Typer) -> None:
    app.add_typer(prices_app, name="prices")
