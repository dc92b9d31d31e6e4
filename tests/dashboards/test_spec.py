"""The dashboard JSON, pure: any valid dashboard reads back the same after export, and a bad
metric, dimension or type anywhere is named by its exact path."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptpulse.dashboards import WIDGET_TYPES, parse, spec
from promptpulse.dashboards.names import metric_names
from promptpulse.errors import Invalid
from promptpulse.model import COLUMN_DIMENSIONS, HISTOGRAM_FIELDS

METRICS = sorted(metric_names(None, None))
ONE = {"number", "stacked", "pie", "donut", "pivot", "heatmap"}
NEEDS_DIMENSION = {"stacked", "pie", "donut", "table", "pivot"}


@st.composite
def widgets(draw: st.DrawFn, i: int) -> dict[str, Any]:
    kind = draw(st.sampled_from(WIDGET_TYPES))
    w = draw(st.integers(1, 12))
    out: dict[str, Any] = {
        "id": f"w{i}",
        "type": kind,
        "position": {"x": draw(st.integers(0, 12 - w)), "y": draw(st.integers(0, 50)), "w": w,
                     "h": draw(st.integers(1, 24))},
    }  # fmt: skip
    if draw(st.booleans()):
        out["title"] = draw(st.text(max_size=20).map(str.strip))
    if kind == "histogram":
        out["field"] = draw(st.sampled_from(list(HISTOGRAM_FIELDS)))
        out["bins"] = draw(st.integers(1, 200))
    elif kind in ONE or draw(st.booleans()):
        out["metric"] = draw(st.sampled_from(METRICS))
    else:
        out["metrics"] = draw(st.lists(st.sampled_from(METRICS), min_size=1, max_size=8))
    if kind in NEEDS_DIMENSION or draw(st.booleans()):
        out["dimension"] = draw(st.sampled_from([*COLUMN_DIMENSIONS, "metadata.team"]))
    if draw(st.booleans()):
        out["filters"] = {"model": draw(st.lists(st.text(min_size=1, max_size=8), min_size=1))}
    return out


@st.composite
def dashboards(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(0, 12))
    return {
        "version": 1,
        "name": draw(st.text(min_size=1, max_size=30).filter(lambda s: s.strip() != "")),
        "range": draw(st.sampled_from(["1h", "24h", "7d", "30d"])),
        "filters": draw(st.sampled_from([{}, {"environment": ["prod"]}])),
        "widgets": [draw(widgets(i)) for i in range(n)],
    }


@settings(max_examples=60, deadline=None)
@given(dashboards())
def test_a_valid_dashboard_reads_back_the_same_after_export(raw: dict[str, Any]) -> None:
    names = metric_names(None, None)
    spec = parse(raw, names)
    exported = spec.public()
    assert parse(exported, names) == spec
    assert parse(exported, names).public() == exported
    assert [w["id"] for w in exported["widgets"]] == [w["id"] for w in raw["widgets"]]


@settings(max_examples=60, deadline=None)
@given(dashboards(), st.data())
def test_a_bad_name_anywhere_is_named_by_its_path(raw: dict[str, Any], data: st.DataObject) -> None:
    widgets_with_metric = [i for i, w in enumerate(raw["widgets"]) if "metric" in w]
    if not widgets_with_metric:
        return
    i = data.draw(st.sampled_from(widgets_with_metric))
    raw["widgets"][i]["metric"] = "no_such_metric"
    with pytest.raises(Invalid) as err:
        parse(raw, metric_names(None, None))
    assert [e.field for e in err.value.errors] == [f"widgets[{i}].metric"]


def test_the_widget_editor_offers_exactly_the_histogram_fields_of_the_api() -> None:
    js = Path(spec.__file__).parents[1] / "web/static/js/pages/widgets.js"
    found = re.search(r"export const HISTOGRAM_FIELDS = \[(.*?)\];", js.read_text())
    assert found, "widgets.js lost its HISTOGRAM_FIELDS"
    assert re.findall(r'"([a-z_]+)"', found.group(1)) == list(HISTOGRAM_FIELDS)
