"""Rollup maintenance: the task that compacts closed hours and days (the rollups themselves, and
their sketches, belong to each store backend)."""

from promptpulse.rollups.task import compact_once, make_run_once

__all__ = ["compact_once", "make_run_once"]
