"""HTTP query parameters -> the typed values of `promptpulse.model` (scope, metrics, dimension,
interval).

`parse_*` turn an HTTP query string (a multi-dict) into these values, naming the parameter in
every error, so routes stay thin and the rules are tested without a server.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

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
    is_dimension,
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


def parse_time(value: str, name: str) -> datetime:
    """RFC 3339 with an offset (or Z), or a bare date taken as UTC midnight."""
    text = value.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return datetime.fromisoformat(text).replace(tzinfo=UTC)
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
    return parsed.astimezone(UTC)


def parse_scope(params: MultiDict, now: datetime, errors: Errors) -> Scope:
    start = end = None
    for name in ("from", "to"):
        raw = single(params, name, errors)
        if raw is None:
            continue
        try:
            parsed = parse_time(raw, name)
        except Invalid as exc:
            errors.items.extend(exc.errors)
            continue
        if name == "from":
            start = parsed
        else:
            end = parsed
    end = end or now
    start = start or end - DEFAULT_RANGE
    if start >= end:
        errors.add("from", "must be earlier than to")
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
            if key not in {f.dimension for f in filters}:
                filters.append(Filter(key, values))
    return Scope(start, end, tuple(filters))


def parse_metrics(raw: str | None, name: str, errors: Errors, default: list[str]) -> list[Metric]:
    names = [n.strip() for n in (raw or "").split(",") if n.strip()] or default
    unknown = [n for n in names if n not in CATALOG]
    if unknown:
        errors.add(name, f"unknown metric {', '.join(unknown)}; see /v1/metrics/catalog")
        return []
    return [CATALOG[n] for n in dict.fromkeys(names)]


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
        return (
            "minute"
            if span <= timedelta(hours=2)
            else "hour"
            if span <= timedelta(days=7)
            else "day"
        )
    if raw not in INTERVALS:
        errors.add("interval", f"'{raw}' is not one of {', '.join(INTERVALS)}")
        return "hour"
    step = INTERVALS[raw]
    if step is not None and (scope.end - scope.start) / step > MAX_SERIES_POINTS:
        errors.add("interval", f"gives more than {MAX_SERIES_POINTS} points; choose a wider one")
    return raw


def parse_int(params: MultiDict, name: str, errors: Errors, default: int, lo: int, hi: int) -> int:
    raw = single(params, name, errors)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        errors.add(name, f"'{raw}' is not an integer")
        return default
    if not lo <= value <= hi:
        errors.add(name, f"must be between {lo} and {hi}")
    return value


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
