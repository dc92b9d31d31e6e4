"""Rollups: hourly and daily summaries with mergeable sketches, and the task that keeps them."""

from promptpulse.rollups.plan import ROLLUP_DIMENSIONS, Piece, eligible, is_approximate, pieces
from promptpulse.rollups.sketch import ALPHA

__all__ = ["ALPHA", "ROLLUP_DIMENSIONS", "Piece", "eligible", "is_approximate", "pieces"]
