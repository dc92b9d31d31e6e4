"""SLOs: an objective on success rate or on the share of calls under a latency bound, over a
rolling window; error budget, burn rates and multi-window multi-burn-rate alerts."""

from promptpulse.slos.backtest import backtest_slo
from promptpulse.slos.service import SloIn, evaluate, slo_history, slo_source, slo_status

__all__ = ["SloIn", "backtest_slo", "evaluate", "slo_history", "slo_source", "slo_status"]
