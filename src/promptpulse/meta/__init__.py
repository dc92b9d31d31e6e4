"""Metadata: every table that is not call data (keys, prices, alerting, budgets, SLOs,
experiments, report schedules, retention policies), in SQLite or PostgreSQL, on one MetaData
with numbered migrations applied when `MetaDB` opens it.

Kept apart from the DuckDB file so that the CLI can change it while the server runs. Features
import their tables from here.
"""

from promptpulse.meta.custom_metrics import project_metrics
from promptpulse.meta.db import UNREACHABLE, MetaDB
from promptpulse.meta.keys import ApiKey, Scope, create_key, list_keys, revoke_key, verify_key
from promptpulse.meta.prices import delete_price, get_override, list_prices, set_price
from promptpulse.meta.tables import (
    alert_deliveries,
    alert_events,
    alert_rules,
    alert_silences,
    alerts,
    annotations_table,
    api_keys,
    budgets,
    custom_metrics,
    dashboards,
    experiment_exposures,
    experiments,
    incident_alerts,
    incident_events,
    incidents,
    leases,
    metadata,
    price_overrides,
    report_schedules,
    retention_policies,
    schema_version,
    slos,
)

__all__ = [
    "UNREACHABLE",
    "ApiKey",
    "MetaDB",
    "Scope",
    "alert_deliveries",
    "alert_events",
    "alert_rules",
    "alert_silences",
    "alerts",
    "annotations_table",
    "api_keys",
    "budgets",
    "create_key",
    "custom_metrics",
    "dashboards",
    "delete_price",
    "experiment_exposures",
    "experiments",
    "get_override",
    "incident_alerts",
    "incident_events",
    "incidents",
    "leases",
    "list_keys",
    "list_prices",
    "metadata",
    "price_overrides",
    "project_metrics",
    "report_schedules",
    "retention_policies",
    "revoke_key",
    "schema_version",
    "set_price",
    "slos",
    "verify_key",
]
