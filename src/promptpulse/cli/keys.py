"""`promptpulse keys create|list|revoke`: API keys in the metadata database (works while the
server runs; a revoked key stops working there within a second)."""

from __future__ import annotations

from typing import Annotated

import typer

from promptpulse.cli.ids import resolve
from promptpulse.cli.local import DataDirOrDefault, metadata, settings_from
from promptpulse.cli.output import Json, console, listing, print_json, when

keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)


@keys_app.command("create")
def keys_create(
    project: Annotated[
        str | None, typer.Option(help="The key's project (omit for an admin key)")
    ] = None,
    scopes: Annotated[str, typer.Option(help="Comma list of ingest, read, admin")] = "ingest,read",
    name: Annotated[str | None, typer.Option(help="A label to recognise the key by")] = None,
    data_dir: DataDirOrDefault = None,
) -> None:
    """Create a key. Its secret is the last line printed, and is never shown again."""
    from promptpulse.meta import create_key
    from promptpulse.meta.keys import parse_scopes

    with metadata(settings_from(data_dir)) as meta:
        key, secret = create_key(meta, project, parse_scopes(scopes), name)
    console.print(
        f"created key {key.id} for project {key.project or '* (admin)'} "
        f"with scopes {','.join(sorted(s.value for s in key.scopes))}"
    )
    print(secret)


@keys_app.command("list")
def keys_list(
    project: Annotated[str | None, typer.Option()] = None,
    data_dir: DataDirOrDefault = None,
    as_json: Json = False,
) -> None:
    """List keys (never their secrets)."""
    from promptpulse.meta import list_keys

    with metadata(settings_from(data_dir)) as meta:
        keys = list_keys(meta, project)
    if as_json:
        return print_json({"keys": [k.as_dict() for k in keys]})
    rows = []
    for k in keys:
        d = k.as_dict()
        rows.append(
            (
                k.id,
                k.prefix + "…",
                k.project or "* (admin)",
                ",".join(sorted(s.value for s in k.scopes)),
                k.name or "",
                when(d["created_at"]),
                when(d["revoked_at"]),
            )
        )
    columns = ("id", "prefix", "project", "scopes", "name", "created", "revoked")
    console.print(listing(columns, rows, optional=("prefix", "created")))


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id, or a unique start of it")],
    data_dir: DataDirOrDefault = None,
) -> None:
    """Revoke a key by id (or a unique start of it).

    It stops working within a second, even on a running server."""
    from promptpulse.meta import list_keys, revoke_key

    with metadata(settings_from(data_dir)) as meta:
        key_id = resolve(key_id, (k.id for k in list_keys(meta, None)), "key")
        revoke_key(meta, key_id)
    console.print(f"revoked {key_id}")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
