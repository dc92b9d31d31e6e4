"""What the three backtest routes (rules, budgets, SLOs) share: the query parameters, reading
them, and running a backtest off the event loop with its errors as 422s."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams

from promptpulse.alerts import ReplayError, parse_duration
from promptpulse.errors import FieldError, Invalid, invalid
from promptpulse.query.parse import Errors, Param, ParamKind

BT_FROM = Param("from", ParamKind.TIME, "RFC 3339 start, inclusive (default: to − 30 days)")
BT_TO = Param("to", ParamKind.TIME, "RFC 3339 end, exclusive, not after now (default: now)")


def step_param(default: str) -> Param:
    return Param(
        "step", ParamKind.TEXT, f"Simulated clock step, at least 1m (default: {default})",
        default=default, example=default,
    )  # fmt: skip


def read_range(
    params: QueryParams, step: Param
) -> tuple[datetime | None, datetime | None, timedelta]:
    errors = Errors()
    start, end = BT_FROM.read(params, errors), BT_TO.read(params, errors)
    raw = step.read(params, errors)
    every = timedelta(0)
    try:
        every = parse_duration(raw, "step")
    except ValueError as exc:
        errors.add("step", str(exc).removeprefix("step: "))
    errors.raise_if_any()
    return start, end, every


def parse_spec(model: type[BaseModel], body: Any) -> Any:
    """The body as a rule, budget or SLO, or a 422 naming each bad field."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        errors = [
            FieldError(
                ".".join(str(p) for p in e["loc"]) or "body",
                e["msg"].removeprefix("Value error, "),
            )
            for e in exc.errors()
        ]
        raise Invalid("; ".join(f"{e.field}: {e.message}" for e in errors), errors) from None


async def run(fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """A backtest in a worker thread; one the replay cannot answer is a 422, never a 500."""
    try:
        return await run_in_threadpool(fn, *args)
    except ReplayError as exc:
        raise invalid("body", f"this cannot be backtested: {exc}") from None
