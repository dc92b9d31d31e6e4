"""Which metric names a project's dashboards may use: one resolver, so that every check of a
widget's metric (create, replace, import) asks the same question in one place.

That is the metric catalog plus the project's own custom metrics (`GET /v1/metrics/catalog`
lists both). A custom metric deleted later leaves its widgets drawing the API's error for the
unknown name until the dashboard is edited (deletion checks rules and experiments, not pages).
"""

from __future__ import annotations

import sqlalchemy as sa

from promptpulse.meta import project_metrics
from promptpulse.model import CATALOG, Kind

# Metrics a widget can draw: everything the metrics API answers per bucket or per row.
# rpm_peak needs a sub-query per group, which timeseries and breakdown do not offer.
_DRAWABLE = frozenset(name for name, m in CATALOG.items() if m.kind is not Kind.PEAK_MINUTE)


def metric_names(engine: sa.Engine | None, project: str | None) -> frozenset[str]:
    """Every metric name a dashboard of `project` may use (`engine`: the metadata database,
    where the project's custom metrics live; None: the catalog alone)."""
    if engine is None or project is None:
        return _DRAWABLE
    return _DRAWABLE | frozenset(project_metrics(engine, project))
