"""Every service the routes need, built once by create_app and reached through `context(request)`.

Nothing else lives on `app.state`: a route finds the store, the metadata, the writer and each
feature's service here, and tests build the same context around a store of their own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from fastapi import Request

from promptpulse.config import Settings
from promptpulse.ingest.otlp_recent import RecentSpans
from promptpulse.ingest.writer import Writer
from promptpulse.meta import MetaDB
from promptpulse.meta.lease import Lease
from promptpulse.meta.prices import OverrideCache
from promptpulse.observability import ServerMetrics
from promptpulse.store import Store
from promptpulse.web.changes import ChangeFeed
from promptpulse.web.keycache import FailureThrottle, KeyCache

if TYPE_CHECKING:
    from promptpulse.alerts import AlertService
    from promptpulse.exports.service import ExportService
    from promptpulse.reports import ReportService
    from promptpulse.retention import RetentionService


@dataclass
class AppContext:
    settings: Settings
    store: Store
    meta: MetaDB
    writer: Writer
    prices: OverrideCache
    clock: Callable[[], datetime]
    metrics: ServerMetrics
    changes: ChangeFeed
    alerts: AlertService
    retention: RetentionService
    exports: ExportService
    reports: ReportService
    lease: Lease  # whether this replica runs the periodic jobs
    # hashes of known keys, trusted for a second: a key revoked anywhere stops working here
    key_cache: KeyCache = field(default_factory=KeyCache)
    auth_failures: FailureThrottle = field(default_factory=FailureThrottle)
    # LLM spans this replica stored recently: a span of the same call in a later OTLP export is
    # a duplicate.
    recent_spans: RecentSpans = field(default_factory=RecentSpans)


def context(request: Request) -> AppContext:
    return request.app.state.ctx  # type: ignore[no-any-return]
