"""Where the CLI prints: results on stdout, problems and progress bars on stderr; and the
helpers every listing verb shares (tables that never cut an id, `--json`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Annotated, Any

import orjson
import typer
from rich import box
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


MIN_TEXT_WIDTH = 16  # the least a wrapping column keeps before optional columns give way


def listing(
    columns: Sequence[str],
    rows: Iterable[Sequence[str]],
    wrap: Iterable[str] = ("name",),
    optional: Sequence[str] = (),
    **kwargs: Any,
) -> Table:
    """A listing that reads at 80 columns: every column is whole (ids a user types back, states,
    figures, times: never ellipsized nor split) except the free-text ones in `wrap` (names,
    descriptions), which take the room left and wrap between words. When that room is too
    small, the `optional` columns are left out, first named first, and stderr says which (the
    --json output has every field). No vertical rules: they cost three characters a column."""
    rows = [list(r) for r in rows]
    free = set(wrap)
    widths = {c: max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)}

    def needed(shown: list[str]) -> int:
        return sum((MIN_TEXT_WIDTH if c in free else widths[c]) + 2 for c in shown)

    shown = list(columns)
    dropped = []
    for c in optional:
        if needed(shown) <= console.width:
            break
        shown.remove(c)
        dropped.append(c)
    if dropped:
        err.print(f"[dim](left out at {console.width} columns: {', '.join(dropped)}; "
                  "--json has every field)[/dim]", highlight=False)  # fmt: skip
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True, **kwargs)
    for c in shown:
        if c in free:
            table.add_column(c, overflow="fold", ratio=1, min_width=MIN_TEXT_WIDTH)
        else:
            table.add_column(c, no_wrap=True, min_width=widths[c])
    keep = [columns.index(c) for c in shown]
    for r in rows:
        table.add_row(*(r[i] for i in keep))
    return table


def when(at: Any) -> str:
    """A stored time (RFC 3339 UTC) as a listing shows it: to the minute, no offset."""
    return str(at or "").replace("T", " ")[:16]


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
