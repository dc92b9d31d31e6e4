"""HTTP query parameters -> the typed values of `promptpulse.model` (scope, metrics, dimension,
interval).

A parameter is declared once, as data (`Param`: name, kind, default, description); the same
declaration reads it from a query string (a multi-dict) and documents it (the web layer turns a
tuple of them into OpenAPI parameters). Every error names its parameter, so routes stay thin and
the rules are tested without a server. Nothing here knows the web.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from promptpulse.errors import FieldError, Invalid
from promptpulse.model import (
    CATALOG,
    COLUMN_DIMENSIONS,
    FILTERS,
    INTERVALS,
    METADATA_PREFIX,
    Dimension,
    Filter,
    Metric,
    Scope,
    canonical_provider,
    is_dimension,
    utc_within,
)

DEFAULT_RANGE = timedelta(hours=24)
MAX_SERIES_POINTS = 10_000


class MultiDict(Protocol):
    def getlist(self, key: str) -> list[str]: ...
    def keys(self) -> Iterable[str]: ...


@dataclass
class Errors:
    items: list[FieldError] = field(default_factory=list)

    def add(self, name: str, message: str) -> None:
        self.items.append(FieldError(name, message))

    def raise_if_any(self) -> None:
        if self.items:
            detail = "; ".join(f"{e.field}: {e.message}" for e in self.items)
            raise Invalid(detail, self.items)


# ---------------------------------------------------------------------------------------------
# Parameters as data.
# ---------------------------------------------------------------------------------------------


class ParamKind(StrEnum):
    TIME = "time"  # RFC 3339 with an offset, or a bare date (UTC midnight)
    INT = "int"  # an integer within [lo, hi] (inclusive)
    NUMBER = "number"  # a decimal number within (lo, hi) (exclusive) when given
    CHOICE = "choice"  # one of `choices`
    METRICS = "metrics"  # a comma list of catalog metrics; `default` is a list of names
    DIMENSION = "dimension"  # a column dimension, or metadata.<key>
    TEXT = "text"  # any string
    LIST = "list"  # a comma list, or the parameter repeated
    FILTER = "filter"  # repeat for several values (OR); read by `read_scope`, never alone


@dataclass(frozen=True)
class Param:
    """One query parameter: how it is read, what it means when absent, how it is documented."""

    name: str
    kind: ParamKind
    description: str
    default: Any = None
    required: bool = False
    choices: tuple[str, ...] = ()
    lo: float | None = None
    hi: float | None = None
    example: str | None = None

    def read(
        self, params: MultiDict, errors: Errors, custom: Mapping[str, Metric] | None = None
    ) -> Any:
        """The typed value (the default when absent); a bad one is added to `errors`. `custom`:
        the project's custom metrics, which `metrics=` accepts beside the catalog's."""
        if self.kind is ParamKind.LIST:
            return self._list(params, errors)
        if self.kind is ParamKind.FILTER:
            raise TypeError(f"{self.name}: filters are read with the scope (read_scope)")
        if self.kind is ParamKind.INT:
            return parse_int(params, self.name, errors, self.default, self.lo, self.hi)
        if self.kind is ParamKind.CHOICE:
            return parse_choice(params, self.name, errors, self.choices, self.default)
        raw = single(params, self.name, errors)
        if self.kind is ParamKind.METRICS:
            return parse_metrics(raw, self.name, errors, list(self.default or ()), custom)
        if self.kind is ParamKind.DIMENSION:
            return parse_dimension(raw, self.name, errors, self.required)
        if raw is None:
            if self.required:
                errors.add(self.name, "is required")
            return self.default
        if self.kind is ParamKind.TIME:
            return self._time(raw, errors)
        if self.kind is ParamKind.NUMBER:
            return self._number(raw, errors)
        return raw

    def _time(self, raw: str, errors: Errors) -> datetime | None:
        try:
            return parse_time(raw, self.name)
        except Invalid as exc:
            errors.items.extend(exc.errors)
            return self.default  # type: ignore[no-any-return]

    def _number(self, raw: str, errors: Errors) -> float | None:
        try:
            value = float(raw)
        except ValueError:
            errors.add(self.name, f"'{raw}' is not a number")
            return self.default  # type: ignore[no-any-return]
        if (self.lo is not None and not value > self.lo) or (
            self.hi is not None and not value < self.hi
        ):
            hint = f" (e.g. {self.example})" if self.example else ""
            errors.add(self.name, _out_of_range(self.lo, self.hi) + hint)
        return value

    def _list(self, params: MultiDict, errors: Errors) -> list[str] | None:
        raw = params.getlist(self.name)
        if not raw:
            if self.required:
                errors.add(self.name, "is required")
            return self.default  # type: ignore[no-any-return]
        return [v.strip() for item in raw for v in item.split(",") if v.strip()]


def read(
    specs: Iterable[Param],
    params: MultiDict,
    errors: Errors,
    custom: Mapping[str, Metric] | None = None,
) -> dict[str, Any]:
    """Every parameter of `specs` but the scope's (from, to, filters: `read_scope` reads them),
    by name, in order."""
    return {
        p.name: p.read(params, errors, custom)
        for p in specs
        if p.kind is not ParamKind.FILTER and p.name not in SCOPE_NAMES
    }


FROM = Param(
    "from",
    ParamKind.TIME,
    "RFC 3339 start, inclusive (default: to − 24 h)",
    example="2026-01-31T00:00:00Z",
)
TO = Param("to", ParamKind.TIME, "RFC 3339 end, exclusive (default: now)")
FILTER_PARAMS: tuple[Param, ...] = (
    *(
        Param(
            name,
            ParamKind.FILTER,
            f"Only calls whose {name} is one of these (repeat the parameter for several)"
            if name != "tag"
            else "Only calls carrying one of these tags (repeat the parameter for several)",
        )
        for name in FILTERS
    ),
    Param(
        f"{METADATA_PREFIX}<key>",
        ParamKind.FILTER,
        "Only calls whose metadata value under <key> is one of these: write the key in the "
        "name, e.g. metadata.tier=pro (letters, digits and _-.:/, 1-100 chars)",
    ),
)
# A query's range and filters: different filters AND, repeated values of one filter OR.
SCOPE_PARAMS: tuple[Param, ...] = (FROM, TO, *FILTER_PARAMS)
SCOPE_NAMES = frozenset({"from", "to"})


def read_scope(
    params: MultiDict, now: datetime, errors: Errors, start: Param = FROM, end: Param = TO
) -> Scope:
    """The range (`start`, `end`: default the day before now) and every filter given."""
    first, last = start.read(params, errors), end.read(params, errors)
    last = last or now
    first = first or last - DEFAULT_RANGE
    if first >= last:
        errors.add("from", "must be earlier than to")
    return Scope(first, last, read_filters(params, errors))


def read_filters(params: MultiDict, errors: Errors) -> tuple[Filter, ...]:
    filters: list[Filter] = []
    for key in params.keys():  # noqa: SIM118 (a multi-dict, not a dict)
        if key in FILTERS or key.startswith(METADATA_PREFIX):
            if key != "tag" and not is_dimension(key):
                errors.add(key, "metadata keys may use letters, digits and _-.:/ (1-100 chars)")
                continue
            values = tuple(v for v in params.getlist(key) if v != "")
            if not values:
                errors.add(key, "needs a value")
                continue
            if key == "provider":  # stored under one canonical name: `openai.chat` finds `openai`
                values = tuple(dict.fromkeys(canonical_provider(v) or v for v in values))
            if key not in {f.dimension for f in filters}:
                filters.append(Filter(key, values))
    return tuple(filters)


def parse_scope(params: MultiDict, now: datetime, errors: Errors) -> Scope:
    """`read_scope` with the usual from and to."""
    return read_scope(params, now, errors)


# ---------------------------------------------------------------------------------------------
# One value at a time.
# ---------------------------------------------------------------------------------------------


def parse_time(value: str, name: str) -> datetime:
    """RFC 3339 with an offset (or Z), or a bare date taken as UTC midnight."""
    text = value.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            parsed = datetime.fromisoformat(text).replace(tzinfo=UTC)
        else:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise Invalid(
            f"{name}: not an RFC 3339 time",
            [FieldError(name, f"'{value}' is not an RFC 3339 time such as 2026-01-31T00:00:00Z")],
        ) from None
    if parsed.tzinfo is None:
        raise Invalid(
            f"{name}: needs a time-zone offset",
            [FieldError(name, f"'{value}' has no offset; add Z or +HH:MM")],
        )
    try:
        return utc_within(parsed, name)
    except ValueError as exc:
        message = str(exc).removeprefix(f"{name}: ")
        raise Invalid(f"{name}: {message}", [FieldError(name, f"'{value}' {message}")]) from None


def parse_metrics(
    raw: str | None,
    name: str,
    errors: Errors,
    default: list[str],
    custom: Mapping[str, Metric] | None = None,
) -> list[Metric]:
    """Catalog names, and the project's custom metrics (`custom`) by theirs."""
    known = {**(custom or {}), **CATALOG}
    names = [n.strip() for n in (raw or "").split(",") if n.strip()] or default
    unknown = [n for n in names if n not in known]
    if unknown:
        errors.add(name, f"unknown metric {', '.join(unknown)}; see /v1/metrics/catalog")
        return []
    return [known[n] for n in dict.fromkeys(names)]


def parse_dimension(raw: str | None, name: str, errors: Errors, required: bool) -> Dimension | None:
    if raw is None or raw == "":
        if required:
            errors.add(
                name, "is required: one of " + ", ".join(COLUMN_DIMENSIONS) + ", metadata.<key>"
            )
        return None
    if not is_dimension(raw):
        errors.add(
            name,
            f"'{raw}' is not a dimension: one of "
            + ", ".join(COLUMN_DIMENSIONS)
            + ", metadata.<key>",
        )
        return None
    return Dimension(raw)


def parse_interval(raw: str | None, scope: Scope, errors: Errors) -> str:
    if raw is None or raw == "":
        span = scope.end - scope.start
        if span <= timedelta(hours=2):
            return "minute"
        if span <= timedelta(days=7):
            return "hour"
        # the finest of day, week, month that stays within the points a series may have
        for name in ("day", "week"):
            step = INTERVALS[name]
            assert step is not None
            if span / step <= MAX_SERIES_POINTS:
                return name
        return "month"
    if raw not in INTERVALS:
        errors.add("interval", f"'{raw}' is not one of {', '.join(INTERVALS)}")
        return "hour"
    step = INTERVALS[raw]
    if step is not None and (scope.end - scope.start) / step > MAX_SERIES_POINTS:
        errors.add("interval", f"gives more than {MAX_SERIES_POINTS} points; choose a wider one")
    return raw


def parse_int(
    params: MultiDict,
    name: str,
    errors: Errors,
    default: int,
    lo: float | None = None,
    hi: float | None = None,
) -> int:
    raw = single(params, name, errors)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        errors.add(name, f"'{raw}' is not an integer")
        return default
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        errors.add(name, _out_of_range(lo, hi))
    return value


def _out_of_range(lo: float | None, hi: float | None) -> str:
    def shown(x: float) -> str:
        return str(int(x)) if float(x).is_integer() else f"{x:g}"

    if lo is not None and hi is not None:
        return f"must be between {shown(lo)} and {shown(hi)}"
    if lo is not None:
        return f"must be at least {shown(lo)}"
    return f"must be at most {shown(hi)}" if hi is not None else "is out of range"


def parse_choice(
    params: MultiDict, name: str, errors: Errors, choices: tuple[str, ...], default: str | None
) -> str | None:
    raw = single(params, name, errors)
    if raw is None:
        return default
    if raw not in choices:
        errors.add(name, f"'{raw}' is not one of {', '.join(choices)}")
        return default
    return raw


def single(params: MultiDict, name: str, errors: Errors) -> str | None:
    """The parameter's one value (None when absent or empty); twice is an error."""
    values = params.getlist(name)
    if len(values) > 1:
        errors.add(name, "may be given only once")
    return values[0] if values and values[0] != "" else None
