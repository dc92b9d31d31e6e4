"""Repricing stored calls with the price book (meta/prices.py) and genai-prices: the per
(model, day) difference, the write-back through the store, the audit trail, and the automatic
reprices of unpriced calls."""

from promptpulse.prices.audit import RepriceRequest, get_reprice, list_reprices
from promptpulse.prices.plan import DayRow, Plan, plan
from promptpulse.prices.service import SINCE_ALWAYS, RepriceService, check

__all__ = [
    "SINCE_ALWAYS",
    "DayRow",
    "Plan",
    "RepriceRequest",
    "RepriceService",
    "check",
    "get_reprice",
    "list_reprices",
    "plan",
]
