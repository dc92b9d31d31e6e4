"""One router per resource; `ROUTERS` is every one, in the order the app includes them."""

from fastapi import APIRouter

from promptpulse.web.api import (
    alerts,
    budgets,
    calls,
    changes,
    compare,
    custom_metrics,
    experiments,
    forecast,
    health,
    ingest,
    lifecycle,
    metrics,
    otlp,
    prices,
    reports,
    slos,
)

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    ingest.router,
    custom_metrics.router,
    metrics.router,
    prices.router,
    forecast.router,
    changes.router,
    otlp.router,
    calls.router,
    compare.router,
    experiments.router,
    alerts.router,
    budgets.router,
    slos.router,
    lifecycle.router,
    reports.router,
)

__all__ = ["ROUTERS"]
