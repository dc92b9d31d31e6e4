"""`--since 7d`: a range ending now (or at `--to`), for every verb with `--from`/`--to`."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

Since = Annotated[
    str | None,
    typer.Option(
        help="A range ending now (or at --to): 30m, 24h, 7d, 2w; instead of --from",
        show_default=False,
    ),
]
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_SPAN = re.compile(r"(\d+)\s*([mhdw])")


def span(text: str) -> timedelta:
    """`30m`, `24h`, `7d`, `2w` as a duration (more than zero)."""
    m = _SPAN.fullmatch(text.strip().lower())
    if m is None or int(m.group(1)) == 0:
        raise typer.BadParameter(
            f"--since '{text}' must be a number and a unit: 30m, 24h, 7d or 2w"
        )
    return timedelta(**{UNITS[m.group(2)]: int(m.group(1))})


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def start(since: str | None, frm: str | None, to: str | None) -> str | None:
    """The `from` to send: `--from` as given, or `--since` before `--to` (default now). Both
    given is an error that names both."""
    if since is None:
        return frm
    if frm is not None:
        raise typer.BadParameter("--since and --from cannot be used together; give one of them")
    delta = span(since)
    if to is None:
        return iso(datetime.now(UTC) - delta)
    from promptpulse.query.parse import parse_time

    return iso(parse_time(to, "to") - delta)
