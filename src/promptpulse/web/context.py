"""What the routes need, built once by create_app and reached through `request.app.state.ctx`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from fastapi import Request

from promptpulse.config import Settings
from promptpulse.ingest.writer import Writer
from promptpulse.meta import MetaDB
from promptpulse.meta.prices import OverrideCache
from promptpulse.observability import ServerMetrics
from promptpulse.store.base import Store


@dataclass
class AppContext:
    settings: Settings
    store: Store
    meta: MetaDB
    writer: Writer
    prices: OverrideCache
    clock: Callable[[], datetime]
    metrics: ServerMetrics


def context(request: Request) -> AppContext:
    return request.app.state.ctx  # type: ignore[no-any-return]
