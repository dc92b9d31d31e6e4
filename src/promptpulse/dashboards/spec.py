"""The dashboard JSON: what users export, import, create and replace, and its validation.

Pure: no database. `parse(raw, metrics)` checks in three steps and answers every problem of the
first step that finds any, each named by its path (`widgets[2].metric`), so a dashboard is stored
whole or not at all:

1. `version`: a dashboard written by a newer PromptPulse is refused first, alone, since the rest
   of it may use what this version does not know;
2. the shape (pydantic: types, the grid, the widget types, unknown fields);
3. the names: metrics (through the caller's `metrics`, one resolver: see `names.py`),
   dimensions, filters, what each widget type needs, unique widget ids.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from promptpulse.errors import FieldError, Invalid
from promptpulse.model import (
    FILTERS,
    HISTOGRAM_FIELDS,
    METADATA_PREFIX,
    is_dimension,
    utc_within,
)

VERSION = 1  # the newest dashboard JSON this server reads and writes
GRID_COLUMNS = 12
RANGES = ("1h", "24h", "7d", "30d")  # the dashboard's range presets (the top bar's)
# The server's own fields of a stored dashboard: a GET answer is accepted as it is (export →
# import), these are ignored on the way in.
SERVER_FIELDS = ("id", "project", "created_by", "created_at", "updated_at")
MAX_WIDGETS = 60
MAX_METRICS = 8

WidgetType = Literal[
    "number",
    "line",
    "area",
    "bar",
    "stacked",
    "pie",
    "donut",
    "table",
    "pivot",
    "heatmap",
    "histogram",
]
WIDGET_TYPES: tuple[str, ...] = get_args(WidgetType)
Filters = dict[str, list[str]]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Position(Strict):
    """A place on the 12-column grid: column x (0-11), row y, w columns wide, h rows high."""

    x: int = Field(..., ge=0, lt=GRID_COLUMNS)
    y: int = Field(..., ge=0, le=1000)
    w: int = Field(..., ge=1, le=GRID_COLUMNS)
    h: int = Field(..., ge=1, le=24)


class Widget(Strict):
    id: str = Field(..., pattern=r"^[A-Za-z0-9_-]{1,64}$")
    type: WidgetType
    title: str = Field("", max_length=200)
    metric: str | None = Field(None, max_length=200)
    metrics: list[str] | None = Field(None, min_length=1, max_length=MAX_METRICS)
    dimension: str | None = Field(None, max_length=200)
    filters: Filters = Field(default_factory=dict)
    position: Position
    # options (each widget type reads those it needs; see docs/dashboard.md)
    compare: bool = Field(True, description="number: against the previous period")
    limit: int = Field(10, ge=1, le=100, description="pie, donut, table, pivot, stacked: rows")
    interval: Literal["minute", "hour", "day", "week", "month"] | None = None
    field: str | None = Field(None, description="histogram: the call field binned")
    bins: int = Field(40, ge=1, le=200, description="histogram: how many bins")

    def names(self) -> list[str]:
        """The widget's metrics, one or several."""
        return [self.metric] if self.metric else list(self.metrics or [])


class DashboardIn(Strict):
    version: int = Field(VERSION, ge=1, le=VERSION)
    name: str = Field(..., min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
    range: str | TimeRange = Field("24h", description="1h, 24h, 7d, 30d or {from, to}")
    filters: Filters = Field(default_factory=dict)
    widgets: list[Widget] = Field(default_factory=list, max_length=MAX_WIDGETS)

    @field_validator("range", mode="before")
    @classmethod
    def _range(cls, v: Any) -> Any:
        if isinstance(v, TimeRange):
            return v
        if isinstance(v, str):
            if v not in RANGES:
                raise ValueError(f"'{v}' is not one of {', '.join(RANGES)}, or {{from, to}}")
            return v
        if not isinstance(v, dict):
            raise ValueError(f"one of {', '.join(RANGES)}, or {{from, to}} (RFC 3339)")
        try:
            return TimeRange.model_validate(v)
        except ValidationError as exc:
            e = exc.errors()[0]
            where = ".".join(str(p) for p in e["loc"])
            raise ValueError(f"{where + ': ' if where else ''}{_said(e['msg'])}") from None

    @field_validator("name")
    @classmethod
    def _named(cls, v: str) -> str:
        if not v:
            raise ValueError("give the dashboard a name")
        return v

    def public(self) -> dict[str, Any]:
        """The JSON as exported: a widget's options only where they differ from the default,
        the dashboard's own fields always."""
        out = self.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)
        shown = self.range if isinstance(self.range, str) else out["range"]
        return {
            "version": VERSION,
            "name": self.name,
            **({"description": self.description} if self.description else {}),
            "range": shown,
            "filters": self.filters,
            "widgets": out.get("widgets", []),
        }


class TimeRange(Strict):
    from_: datetime = Field(..., alias="from")
    to: datetime

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("from_", "to")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("give a time-zone offset (RFC 3339)")
        return utc_within(v, "range")

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if self.to <= self.from_:
            raise ValueError("to must be after from")
        return self


DashboardIn.model_rebuild()


def _said(msg: str) -> str:
    return msg.removeprefix("Value error, ")


def path(loc: tuple[int | str, ...]) -> str:
    """('widgets', 2, 'metric') -> 'widgets[2].metric' (pydantic's own steps, such as
    'function-after[...]', left out)."""
    out = ""
    for part in loc:
        if isinstance(part, str) and ("[" in part or "(" in part):
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "body"


def parse(raw: Any, metrics: frozenset[str], project: str | None = None) -> DashboardIn:
    """The dashboard in `raw` (decoded JSON), or Invalid naming every problem by its path.
    `metrics`: the metric names this dashboard's project may use; `project`: the project it
    belongs to (a `project` filter may name only that one)."""
    if not isinstance(raw, dict):
        raise _invalid([FieldError("body", "a dashboard is a JSON object")])
    _check_version(raw.get("version", VERSION))
    body = {k: v for k, v in raw.items() if k not in SERVER_FIELDS}
    try:
        spec = DashboardIn.model_validate(body)
    except ValidationError as exc:
        raise _invalid(
            [FieldError(path(tuple(e["loc"])), _said(e["msg"])) for e in exc.errors()]
        ) from None
    errors = check_names(spec, metrics, project)
    if errors:
        raise _invalid(errors)
    return spec


def _check_version(version: Any) -> None:
    if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
        raise _invalid(
            [
                FieldError(
                    "version",
                    f"version {version} is from a newer PromptPulse; this server reads dashboard "
                    f"JSON up to version {VERSION}: upgrade the server, or export the dashboard "
                    f"again as version {VERSION}",
                )
            ]
        )


def _invalid(errors: list[FieldError]) -> Invalid:
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
    return Invalid(detail, errors)


def check_names(
    spec: DashboardIn, metrics: frozenset[str], project: str | None = None
) -> list[FieldError]:
    """Every name the dashboard uses: known metrics, dimensions, filters; what each widget needs."""
    errors = _check_filters("filters", spec.filters, project)
    seen: set[str] = set()
    for i, w in enumerate(spec.widgets):
        at = f"widgets[{i}]"
        if w.id in seen:
            errors.append(FieldError(f"{at}.id", f"'{w.id}' is used by another widget"))
        seen.add(w.id)
        errors += _check_widget(at, w, metrics)
        errors += _check_filters(f"{at}.filters", w.filters, project)
    return errors


# What each widget type needs: a single metric, one or more, a dimension.
ONE_METRIC = frozenset({"number", "stacked", "pie", "donut", "pivot", "heatmap"})
NEEDS_DIMENSION = frozenset({"stacked", "pie", "donut", "table", "pivot"})


def _check_widget(at: str, w: Widget, metrics: frozenset[str]) -> list[FieldError]:
    errors: list[FieldError] = []
    if w.metric and w.metrics:
        errors.append(FieldError(f"{at}.metrics", "give metric or metrics, not both"))
    if w.type == "histogram":
        if w.metric or w.metrics:
            errors.append(FieldError(f"{at}.metric", "a histogram bins a field: give field"))
        if w.field is None or w.field not in HISTOGRAM_FIELDS:
            errors.append(FieldError(f"{at}.field", f"one of {', '.join(HISTOGRAM_FIELDS)}"))
    elif not w.names():
        errors.append(FieldError(f"{at}.metric", f"a {w.type} widget needs a metric"))
    elif w.type in ONE_METRIC and w.metrics and len(w.metrics) > 1:
        errors.append(FieldError(f"{at}.metrics", f"a {w.type} widget shows one metric"))
    for name, where in _metric_paths(at, w):
        if name not in metrics:
            errors.append(
                FieldError(where, f"unknown metric '{name}'; see GET /v1/metrics/catalog")
            )
    if w.dimension is not None and not is_dimension(w.dimension):
        errors.append(
            FieldError(
                f"{at}.dimension", f"unknown dimension '{w.dimension}'; see GET /v1/metrics/catalog"
            )
        )
    elif w.dimension is None and w.type in NEEDS_DIMENSION:
        errors.append(FieldError(f"{at}.dimension", f"a {w.type} widget needs a dimension"))
    if w.position.x + w.position.w > GRID_COLUMNS:
        errors.append(
            FieldError(f"{at}.position", f"x + w must be at most {GRID_COLUMNS} (the grid's width)")
        )
    return errors


def _metric_paths(at: str, w: Widget) -> list[tuple[str, str]]:
    if w.metric:
        return [(w.metric, f"{at}.metric")]
    return [(m, f"{at}.metrics[{j}]") for j, m in enumerate(w.metrics or [])]


def _check_filters(at: str, filters: Filters, project: str | None) -> list[FieldError]:
    errors = []
    for name, values in filters.items():
        known = name in FILTERS or (name.startswith(METADATA_PREFIX) and is_dimension(name))
        if not known:
            errors.append(
                FieldError(
                    f"{at}.{name}", f"unknown filter; one of {', '.join(FILTERS)}, metadata.*"
                )
            )
        elif not values:
            errors.append(FieldError(f"{at}.{name}", "give at least one value"))
        elif name == "project" and project is not None and set(values) != {project}:
            errors.append(
                FieldError(f"{at}.project", f"this dashboard belongs to project '{project}'")
            )
    return errors
