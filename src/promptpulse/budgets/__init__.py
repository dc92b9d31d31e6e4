"""Budgets: an amount per period on any scope; spend to date, the projected end-of-period spend
(`promptpulse.forecast`), alerts at 50/80/100 % spent and when the projection overruns."""

from promptpulse.budgets.service import BudgetIn, BudgetSource, budget_status, evaluate

__all__ = ["BudgetIn", "BudgetSource", "budget_status", "evaluate"]
