"""The data-lifecycle background loops of every server: rollup compaction and retention (and,
when configured, scheduled exports). Entered by create_app's lifespan."""

from __future__ import annotations

import asyncio
from typing import Any

from promptpulse.retention import RetentionService
from promptpulse.rollups.task import make_run_once
from promptpulse.tasks import DaemonTask
from promptpulse.web.context import AppContext


def lifecycle_tasks(app: Any, ctx: AppContext) -> list[DaemonTask]:
    """Services on `app.state` (retention, exports) and their loops (intervals of 0: none)."""
    s = ctx.settings
    app.state.retention = RetentionService(ctx.meta.engine, ctx.store, s, ctx.clock)
    from promptpulse.exports.service import ExportService

    app.state.exports = ExportService(ctx.store, s, ctx.clock)
    tasks = []
    if s.rollup_interval_s > 0:
        tasks.append(
            DaemonTask(
                "rollups",
                s.rollup_interval_s,
                make_run_once(ctx.store, ctx.clock, s.rollup_grace_s),
            )
        )
    if s.retention_interval_s > 0:
        retention: RetentionService = app.state.retention

        async def apply_retention() -> None:
            await asyncio.to_thread(retention.apply)

        tasks.append(DaemonTask("retention", s.retention_interval_s, apply_retention))
    tasks += app.state.exports.daemons()
    from promptpulse.reports import ReportService

    app.state.reports = ReportService(ctx.meta.engine, ctx.store, ctx.clock, s)
    tasks.append(app.state.reports.daemon())
    return tasks
