"""SLOs: an objective on success rate, on the share of calls under a latency bound, or on a
custom metric that is a proportion of calls (good / valid), over a rolling window; error budget,
burn rates and multi-window multi-burn-rate alerts."""

from promptpulse.slos.backtest import backtest_slo
from promptpulse.slos.service import (
    SloIn,
    evaluate,
    ratio_of,
    slo_history,
    slo_source,
    slo_status,
    using_metric,
)
from promptpulse.slos.sli import Proportion, check_proportion, proportion_of

__all__ = [
    "Proportion",
    "SloIn",
    "backtest_slo",
    "check_proportion",
    "evaluate",
    "proportion_of",
    "ratio_of",
    "slo_history",
    "slo_source",
    "slo_status",
    "using_metric",
]
