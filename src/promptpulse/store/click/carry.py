"""Carrying the rollups that outlived their raw calls from one store to another (`promptpulse
migrate`); the engine-neutral shape of the rows is described in `store/duck/carry.py`, the
same for every backend. Here rows are read without merging (fragments: every read merges them,
and AggregatingMergeTree folds them in the background) and written straight into the rollup
tables, not through the views that summarise calls."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from promptpulse.store.click import rollup_sql as sql
from promptpulse.store.click.sql import Params
from promptpulse.store.rollup_plan import LEVELS


def rollup_tables() -> list[str]:
    return [t for level in LEVELS for t in sql.tables(level)]


def neutral(table: pa.Table) -> pa.Table:
    """Dictionary strings decoded, the bucket a naive UTC timestamp in microseconds."""
    columns = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if name == "bucket":
            column = pc.cast(column, pa.timestamp("us", "UTC")).cast(pa.timestamp("us"))
        columns.append(column)
    return pa.table(columns, names=table.column_names)


class CarryMixin:
    _horizons: dict[str, datetime]
    _maintenance: threading.Lock
    _arrow: Callable[..., pa.Table]
    _command: Callable[..., None]
    _delete: Callable[..., None]
    _load_horizons: Callable[[], None]
    insert: Callable[[str, pa.Table], None]
    layout: Any

    def old_rollups(self) -> tuple[dict[str, datetime], Iterator[tuple[str, pa.Table]]]:
        """Per project its raw horizon, and the rollup rows of the buckets that start before
        it, table by table (see the protocol)."""
        horizons = dict(self._horizons)

        def rows() -> Iterator[tuple[str, pa.Table]]:
            for table in rollup_tables():
                for project, cut in sorted(horizons.items()):
                    params = Params()
                    found = self._arrow(
                        f"SELECT * FROM {table} WHERE project = {params.text(project)} "
                        f"AND bucket < {params.time(cut)}",
                        params,
                    )
                    if found.num_rows:
                        yield table, neutral(found)

        return horizons, rows()

    def restore_old_rollups(
        self, horizons: Mapping[str, datetime], rows: Iterable[tuple[str, pa.Table]]
    ) -> int:
        """This store's rollups before each project's horizon replaced by the given rows, and
        the horizons recorded (see the protocol). Rows inserted."""
        known = set(rollup_tables())
        inserted = 0
        with self._maintenance:
            for table in sorted(known):
                for project, cut in horizons.items():
                    params = Params()
                    where = f"project = {params.text(project)} AND bucket < {params.time(cut)}"
                    self._delete(table, where, params)
            for table, found in rows:
                if table not in known:
                    raise ValueError(f"not a rollup table: {table!r}")
                self.insert(table, found)
                inserted += found.num_rows
            for project, cut in horizons.items():
                params = Params()
                self._command(
                    f"INSERT INTO raw_horizon SELECT {params.text(project)}, {params.time(cut)}",
                    params,
                )
            self._load_horizons()
        return inserted
