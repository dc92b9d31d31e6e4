"""Where the CLI prints: results on stdout, problems and progress bars on stderr; and the
helpers every listing verb shares (tables that never cut an id, `--json`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

console = Console()
err = Console(stderr=True)

Json = Annotated[bool, typer.Option("--json", help="Print the machine-readable JSON")]


def problem_lines(detail: str, errors: Iterable[tuple[str, str]], head: str = "") -> list[str]:
    """The detail (after `head`), then each field error it does not already say. A one-field
    problem's detail is `field: summary`: its field error alone says it, more precisely."""
    errors = list(errors)
    if len(errors) == 1 and detail.startswith(f"{errors[0][0]}:"):
        return [f"{head}{errors[0][0]}: {errors[0][1]}"]
    lines = [head + detail]
    for field, message in errors:
        line = f"{field}: {message}"
        if line not in detail:
            lines.append(f"  {line}")
    return lines


def listing(
    columns: Sequence[str],
    rows: Iterable[Sequence[str]],
    ids: Iterable[str] = ("id",),
    **kwargs: Any,
) -> Table:
    """A table whose id columns (what a user types back) are never ellipsized nor split: each
    is as wide as its longest value, and the other columns give way first at 80 columns."""
    table = Table(**kwargs)
    rows = [list(r) for r in rows]
    wanted = set(ids)
    for i, c in enumerate(columns):
        if c in wanted:
            widest = max([len(c), *(len(r[i]) for r in rows)])
            table.add_column(c, no_wrap=True, overflow="fold", min_width=widest)
        else:
            table.add_column(c)
    for r in rows:
        table.add_row(*r)
    return table


def print_json(data: Any) -> None:
    """Machine-readable output: plain JSON on stdout (no colour, no wrapping)."""
    print(orjson.dumps(data, option=orjson.OPT_INDENT_2, default=str).decode())


def figure_tables(
    key: str, columns: Sequence[str], rows: Sequence[Sequence[str]], title: str | None = None
) -> list[Table]:
    """A table of figures (a key column, then one column per metric) as one table or, when it is
    wider than the terminal, as several that each repeat the key column: a figure is never
    folded, cut or ellipsized at 80 columns."""

    def width(i: int, head: str) -> int:
        return max([len(head), *(len(r[i]) for r in rows)]) + 3  # padding and a border

    room = max(console.width - 1, 20) - width(0, key)
    chunks: list[list[int]] = [[]]
    used = 0
    for i, c in enumerate(columns, start=1):
        w = width(i, c)
        if chunks[-1] and used + w > room:
            chunks.append([])
            used = 0
        chunks[-1].append(i)
        used += w
    tables = []
    for n, chunk in enumerate(chunks):
        table = Table(title=title if n == 0 else None)
        for i in (0, *chunk):
            head = key if i == 0 else columns[i - 1]
            table.add_column(head, no_wrap=True, justify="left" if i == 0 else "right")
        for r in rows:
            table.add_row(*(r[i] for i in (0, *chunk)))
        tables.append(table)
    return tables
