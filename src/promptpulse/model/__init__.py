"""The floor everybody stands on, pure: record schemas, the query scope, the metric catalog and
typed result rows. Imports nothing of PromptPulse but `errors`."""

from promptpulse.model import fmt
from promptpulse.model.bounds import MAX_CUSTOM_PERIOD, TIME_CEILING, TIME_FLOOR, utc_within
from promptpulse.model.catalog import (
    CATALOG,
    CONDITIONS,
    COUNT,
    METRICS,
    Agg,
    Kind,
    Metric,
    Op,
    base_aggregates,
)
from promptpulse.model.channel_fields import CHANNEL_SECRET_FIELDS
from promptpulse.model.derived import (
    DERIVED_CALL_FIELDS,
    HISTOGRAM_FIELDS,
    VALUE_FIELDS,
    check_value_fields,
)
from promptpulse.model.formula import FormulaError, Term, check_term
from promptpulse.model.formula_parse import custom_metric
from promptpulse.model.prices import MTOK, PriceEntry, PriceOverride, PriceRanges, PriceTable
from promptpulse.model.providers import PROVIDER_ALIASES, canonical_provider
from promptpulse.model.records import (
    CALL_FIELDS,
    CALL_SCHEMA,
    NUMERIC_CALL_FIELDS,
    SCORE_SCHEMA,
    check_call_fields,
)
from promptpulse.model.rows import AggRow, PeakRow, RetentionRow, UserActivityRow, VersionStart
from promptpulse.model.scope import (
    COLUMN_DIMENSIONS,
    FILTERS,
    INTERVALS,
    METADATA_PREFIX,
    Dimension,
    Filter,
    Scope,
    Sort,
    is_dimension,
)

__all__ = [
    "CALL_FIELDS",
    "CALL_SCHEMA",
    "CATALOG",
    "CHANNEL_SECRET_FIELDS",
    "COLUMN_DIMENSIONS",
    "CONDITIONS",
    "COUNT",
    "DERIVED_CALL_FIELDS",
    "FILTERS",
    "HISTOGRAM_FIELDS",
    "INTERVALS",
    "MAX_CUSTOM_PERIOD",
    "METADATA_PREFIX",
    "METRICS",
    "MTOK",
    "NUMERIC_CALL_FIELDS",
    "PROVIDER_ALIASES",
    "SCORE_SCHEMA",
    "TIME_CEILING",
    "TIME_FLOOR",
    "VALUE_FIELDS",
    "Agg",
    "AggRow",
    "Dimension",
    "Filter",
    "FormulaError",
    "Kind",
    "Metric",
    "Op",
    "PeakRow",
    "PriceEntry",
    "PriceOverride",
    "PriceRanges",
    "PriceTable",
    "RetentionRow",
    "Scope",
    "Sort",
    "Term",
    "UserActivityRow",
    "VersionStart",
    "base_aggregates",
    "canonical_provider",
    "check_call_fields",
    "check_term",
    "check_value_fields",
    "custom_metric",
    "fmt",
    "is_dimension",
    "utc_within",
]
