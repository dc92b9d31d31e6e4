"""The rollup maintenance task: compaction of closed buckets, run in the server or from the CLI."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from promptpulse.store import Store

log = logging.getLogger("promptpulse.rollups")


def compact_once(store: Store, now: datetime, grace_s: float) -> dict[str, int]:
    """Fold the fragments of every hour/day closed for `grace_s` seconds; returns buckets folded."""
    done: dict[str, int] = store.compact_rollups(now, timedelta(seconds=grace_s))
    if any(done.values()):
        log.info("rollups compacted: %s", done)
    return done


def make_run_once(store: Store, clock: Callable[[], datetime], grace_s: float) -> Callable[[], Any]:
    async def run_once() -> None:
        await asyncio.to_thread(compact_once, store, clock(), grace_s)

    return run_once
