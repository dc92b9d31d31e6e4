"""Change markers: annotations a project records, prompt-version markers computed from the
calls, and the likely causes offered with an alert (docs/api.md, docs/alerting.md)."""

from promptpulse.markers.markers import LOOKBACK, likely_causes, markers
from promptpulse.markers.repo import (
    FILTER_FIELDS,
    KINDS,
    Annotation,
    AnnotationSpec,
    create,
    delete,
    list_in,
)

__all__ = [
    "FILTER_FIELDS",
    "KINDS",
    "LOOKBACK",
    "Annotation",
    "AnnotationSpec",
    "create",
    "delete",
    "likely_causes",
    "list_in",
    "markers",
]
