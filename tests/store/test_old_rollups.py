"""The store contract, continued: rollups that outlived their raw calls carried to another store
(`old_rollups` / `restore_old_rollups`, what `promptpulse migrate` uses). After retention
deleted a project's raw calls before a horizon, a fresh store given the calls left and the
carried rollups answers every long-range figure as the full dataset says (checked against the
independent numpy computation of test_contract), and raw-only questions with the calls left."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pyarrow as pa
import pytest

from promptpulse.model import CALL_SCHEMA
from promptpulse.store import Store
from tests.store.conftest import EDGE, END, T0, load, write
from tests.store.test_contract import ALL_TIME, check_raw, check_rollups_match, remaining, us


@pytest.mark.parametrize(
    "before",
    [
        pytest.param(T0 + timedelta(days=1), id="whole-day"),
        pytest.param(EDGE, id="mid-day"),  # its hour and day start before it: carried whole
    ],
)
def test_old_rollups_carry_to_a_fresh_store(
    fresh: Callable[..., Store], dataset_batches: tuple, before: datetime
) -> None:
    source = fresh(0)
    data = load(source, dataset_batches)
    source.compact_rollups(END + timedelta(hours=2), timedelta(hours=1))
    nothing, none = source.old_rollups()  # without retention, rollups have their raw calls
    assert nothing == {} and list(none) == []
    source.apply_retention("raw", before, "alpha")
    project, ts = data.col("project"), data.col("timestamp")
    left = remaining(data, ~((project == "alpha") & (ts < us(before))))

    target = fresh(0)  # answers from rollups whenever it can
    _, batches = source.export_batches("calls", CALL_SCHEMA.names, ALL_TIME)
    calls = pa.concat_tables(pa.Table.from_batches([b]).cast(CALL_SCHEMA) for b in batches)
    assert write(target, "events", calls) == (left.n, 0)
    horizons, rows = source.old_rollups()
    assert horizons == {"alpha": before}
    carried = target.restore_old_rollups(horizons, rows)
    assert carried > 0
    check_raw(target, left)
    check_rollups_match(target, data, "carried")
    assert target.raw_incomplete(ALL_TIME)

    # Carried again (a resumed migration): replaced, not added.
    assert target.restore_old_rollups(*source.old_rollups()) == carried
    check_rollups_match(target, data, "carried twice")
