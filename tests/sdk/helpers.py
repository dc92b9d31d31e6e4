"""Reading back what the SDK sent: rows of one project from the live server's store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from promptpulse.model import Filter, Scope
from tests.conftest import LiveServer

COLUMNS = (
    "id", "timestamp", "project", "prompt_id", "prompt_version", "model", "provider",
    "environment", "feature", "user_id", "session_id", "tags", "metadata", "status", "error_type",
    "error_message", "http_status", "latency_ms", "ttft_ms", "input_tokens", "output_tokens",
    "cached_tokens", "reasoning_tokens", "cost_usd", "retries", "response_model",
    "cache_write_tokens",
)  # fmt: skip


def project_scope(project: str) -> Scope:
    now = datetime.now(UTC)
    return Scope(now - timedelta(days=2), now + timedelta(days=2), (Filter("project", (project,)),))


def stored(live: LiveServer, project: str, limit: int = 100_000) -> list[dict[str, Any]]:
    rows = live.ctx.store.calls(project_scope(project), list(COLUMNS), limit, newest_first=False)
    return list(rows)
