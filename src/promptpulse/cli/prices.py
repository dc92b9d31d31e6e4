"""`promptpulse prices set|list|delete`: per-project price overrides in the metadata database;
a running server picks a change up within two seconds."""

from __future__ import annotations

from typing import Annotated

import typer

from promptpulse.cli.local import DataDirOrDefault, metadata, settings_from
from promptpulse.cli.output import Json, console, listing, print_json

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
    """List price overrides."""
    from promptpulse.meta import list_prices

    with metadata(settings_from(data_dir)) as meta:
        prices = list_prices(meta, project)
    if as_json:
        return print_json(
            {
                "prices": [
                    {
                        "project": proj,
                        "model": o.model,
                        "input_per_mtok": o.input_per_mtok,
                        "output_per_mtok": o.output_per_mtok,
                        "cached_input_per_mtok": o.cached_input_per_mtok,
                    }
                    for proj, o in prices
                ]
            }
        )
    rows = [
        (
            proj,
            o.model,
            f"{o.input_per_mtok:g}",
            f"{o.output_per_mtok:g}",
            "" if o.cached_input_per_mtok is None else f"{o.cached_input_per_mtok:g}",
        )
        for proj, o in prices
    ]
    columns = ("project", "model", "input $/M", "output $/M", "cached $/M")
    # `prices delete MODEL --project P` takes both back: neither is cut.
    console.print(listing(columns, rows, wrap=()))


@prices_app.command("delete")
def prices_delete(
    model: str, project: Annotated[str, typer.Option()], data_dir: DataDirOrDefault = None
) -> None:
    """Remove a price override."""
    from promptpulse.meta import delete_price

    with metadata(settings_from(data_dir)) as meta:
        delete_price(meta, project, model)
    console.print(f"removed the price of {model} in {project}")


def register(app: typer.Typer) -> None:
    app.add_typer(prices_app, name="prices")
