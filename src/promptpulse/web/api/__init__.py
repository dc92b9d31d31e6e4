"""One router per resource; `ROUTERS` is every one, in the order the app includes them."""

from fastapi import APIRouter

from promptpulse.web.api import (
    alerts,
    annotations,
    budgets,
    calls,
    changes,
    charts,
    compare,
    custom_metrics,
    dashboards,
    experiments,
    forecast,
    health,
    incidents,
    ingest,
    lifecycle,
    metrics,
    otlp,
    price_book,
    prices,
    reports,
    slos,
    users,
)

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    ingest.router,
    custom_metrics.router,
    metrics.router,
    charts.router,
    price_book.router,
    prices.router,
    forecast.router,
    changes.router,
    otlp.router,
    calls.router,
    compare.router,
    experiments.router,
    incidents.router,
    alerts.router,
    budgets.router,
    slos.router,
    lifecycle.router,
    reports.router,
    dashboards.router,
    users.router,
    annotations.router,
)

__all__ = ["ROUTERS"]
