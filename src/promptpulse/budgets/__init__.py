"""Budgets: an amount per period on any scope; spend to date, the projected end-of-period spend
(`promptpulse.forecast`), alerts at 50/80/100 % spent and when the projection overruns."""

from promptpulse.budgets.backtest import backtest_budget
from promptpulse.budgets.check import MODES, BudgetChecker
from promptpulse.budgets.service import BudgetIn, budget_source, budget_status, evaluate

__all__ = [
    "MODES",
    "BudgetChecker",
    "BudgetIn",
    "backtest_budget",
    "budget_source",
    "budget_status",
    "evaluate",
]
