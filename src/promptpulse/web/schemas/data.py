"""Answers of ingest (/v1/events, /v1/scores), exports, reports and health."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from promptpulse.web.schemas.common import FieldErrorOut, Number, Out


class RejectedItem(Out):
    index: int = Field(description="Position in the batch, from 0")
    id: str | None = Field(description="The item's id, when it had one")
    errors: list[FieldErrorOut]


class IngestResult(Out):
    accepted: int = Field(description="Newly stored")
    duplicates: int = Field(description="Ids already stored (not stored again)")
    rejected: list[RejectedItem] = Field(description="Invalid items; the rest were stored")


class IngestProblem(IngestResult):
    """422: every item was rejected (a problem, with the same `rejected` list)."""

    type: str
    title: str
    status: int
    detail: str


class Progress(Out):
    rows_written: int
    rows_total: int | None
    fraction: Number


class ExportJob(Out):
    id: str
    status: str = Field(description="queued, running, done or failed")
    format: str
    source: str
    progress: Progress
    error: str | None
    manifest: dict[str, Any] | None = Field(description="Files, rows and checksums, when done")


class Health(Out):
    status: str


class Ready(Out):
    status: str
    writer_queue_events: int = Field(description="Events waiting for the writer")
    replica: str = Field(description="This replica's name (PROMPTPULSE_REPLICA_ID)")
    leader: str | None = Field(
        description="The replica running the periodic jobs (null: none holds the lease now, "
        "or the metadata database cannot be reached)"
    )


class SentReport(Out):
    period_start: str
    period_end: str
    results: list[dict[str, Any]] = Field(description="Per channel: type, target, status, error")


class DueSends(Out):
    sent: list[dict[str, Any]]
