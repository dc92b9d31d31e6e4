"""Custom dashboards (issue 15): a project's own pages of widgets over the public metrics API.

The JSON (`spec`), its checks (the metric names through `names.metric_names`, one resolver) and
its storage (`repo`). Routes: `promptpulse.web.api.dashboards`; the page: `js/pages/dashboards.js`.
"""

from promptpulse.dashboards import repo
from promptpulse.dashboards.names import metric_names
from promptpulse.dashboards.spec import (
    SERVER_FIELDS,
    VERSION,
    WIDGET_TYPES,
    DashboardIn,
    Widget,
    parse,
)

__all__ = [
    "SERVER_FIELDS",
    "VERSION",
    "WIDGET_TYPES",
    "DashboardIn",
    "Widget",
    "metric_names",
    "parse",
    "repo",
]
