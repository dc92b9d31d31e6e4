"""Which metric names a project's dashboards may use: one resolver, so that every check of a
widget's metric (create, replace, import) asks the same question in one place.

Today that is the metric catalog (`GET /v1/metrics/catalog`). Custom metrics, defined per
project, plug in here: add the project's own names to the answer and every dashboard check
(and nothing else in this package) accepts them.
"""

from __future__ import annotations

import sqlalchemy as sa

from promptpulse.model import CATALOG, Kind

# Metrics a widget can draw: everything the metrics API answers per bucket or per row.
# rpm_peak needs a sub-query per group, which timeseries and breakdown do not offer.
_DRAWABLE = frozenset(name for name, m in CATALOG.items() if m.kind is not Kind.PEAK_MINUTE)


def metric_names(engine: sa.Engine | None, project: str | None) -> frozenset[str]:
    """Every metric name a dashboard of `project` may use (`engine`: the metadata database,
    where a project's custom metrics will live; unused while there are none)."""
    del engine, project  # the catalog is the same for every project
    return _DRAWABLE
