"""docs/otlp.md's attribute table is exactly what the receiver reads (otlp_attributes)."""

from __future__ import annotations

import re
from pathlib import Path

from promptpulse.ingest.otlp_attributes import ATTRIBUTES_READ, FIRST_TOKEN_EVENTS, VERCEL_CALLS

DOC = Path(__file__).parents[2] / "docs" / "otlp.md"
# Backticked values in the table that are not attribute names: a JSON key, an event name.
NOT_ATTRIBUTES = {"model", "exception"}


def table() -> str:
    text = DOC.read_text()
    return text.split("<!-- attributes-table -->")[1].split("<!-- /attributes-table -->")[0]


def names_in(text: str) -> set[str]:
    """Backticked names in the scheme columns (the first column names our fields)."""
    names: set[str] = set()
    for row in text.strip().splitlines():
        for cell in row.strip("|").split("|")[1:]:
            names |= set(re.findall(r"`([^`\s]+)`", cell))
    return names - NOT_ATTRIBUTES


def test_the_table_lists_every_attribute_read_and_nothing_else() -> None:
    listed = names_in(table()) - FIRST_TOKEN_EVENTS
    assert listed - ATTRIBUTES_READ == set(), "documented but not read"
    assert ATTRIBUTES_READ - listed == set(), "read but not documented"


def test_the_table_names_every_first_token_event_and_vercel_operation() -> None:
    text = table()
    assert all(f"`{event}`" in text for event in FIRST_TOKEN_EVENTS)
    doc = DOC.read_text()
    assert all(f"`{operation}`" in doc for operation in VERCEL_CALLS)


def test_table_rows_are_well_formed() -> None:
    rows = [r for r in table().strip().splitlines() if r.startswith("|")]
    assert len(rows) > 10
    assert {r.count("|") for r in rows} == {6}  # five columns each
