"""Every setting, defined once. Env vars are `PROMPTPULSE_<NAME>`; CLI flags override them."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PROMPTPULSE_", extra="ignore")

    data_dir: Path = Field(Path("./promptpulse-data"), description="Where the DuckDB file lives.")
    host: str = Field("127.0.0.1", description="Address the server listens on.")
    port: int = Field(8000, description="Port the server listens on.")
    metadata_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the metadata database (keys, prices). "
        "Default: a SQLite file in the data directory.",
    )
    duckdb_memory_limit: str = Field(
        "400MB", description="DuckDB memory_limit: its cache (the process uses ~250 MB more)."
    )
    duckdb_threads: int | None = Field(None, description="DuckDB threads (default: all cores).")
    max_batch_events: int = Field(10_000, description="Most events in one ingest request.")
    max_body_bytes: int = Field(10 * 1024 * 1024, description="Largest decompressed request body.")
    writer_queue_events: int = Field(
        200_000, description="Events waiting for the writer before ingest answers 429."
    )
    writer_group_events: int = Field(
        50_000, description="Most events the writer commits in one transaction."
    )
    query_timeout_s: float = Field(30.0, description="A metric query is interrupted after this.")
    log_level: str = Field("info", description="Log level of the server.")
    alerts_interval_s: float = Field(
        30.0, description="Seconds between alert evaluation rounds (0: only on demand)."
    )
    alerts_max_attempts: int = Field(5, description="Tries per alert notification.")
    alerts_retry_base_s: float = Field(
        2.0, description="First retry delay of a failed notification; doubles each try."
    )
    smtp_url: str | None = Field(
        None,
        description="SMTP server for email alerts: smtp://[user:pass@]host[:port], "
        "smtps://... (TLS) or smtp+starttls://...",
    )
    smtp_from: str = Field("promptpulse@localhost", description="Sender of alert emails.")
    public_url: str | None = Field(
        None, description="Base URL for links in notifications (default http://host:port)."
    )
    rollup_min_calls: int = Field(
        1_000_000,
        description="Metric queries over whole hours/days answer from rollups when "
        "the range holds at least this many calls (0: whenever they can).",
    )
    rollup_interval_s: float = Field(
        60.0, description="Seconds between rollup compaction passes (0: only on demand)."
    )
    rollup_grace_s: float = Field(
        3600.0,
        description="An hour or day is compacted once closed this long; later calls "
        "are still folded in.",
    )
    retention_interval_s: float = Field(
        3600.0, description="Seconds between retention passes (0: only on demand)."
    )
    retention_raw_days: int = Field(90, description="Days raw calls are kept (0: forever).")
    retention_hourly_days: int = Field(
        400, description="Days hourly rollups are kept (0: forever)."
    )
    retention_daily_days: int = Field(1095, description="Days daily rollups are kept (0: forever).")
    export_schedule: str | None = Field(
        None, description="Scheduled exports of calls: hourly or daily (unset: none)."
    )
    export_dir: Path | None = Field(None, description="Directory scheduled exports go to.")
    export_format: str = Field("parquet", description="csv, jsonl or parquet.")
    export_grace_s: float = Field(
        300.0, description="A window is exported once closed this long (calls in flight land)."
    )
    export_interval_s: float = Field(60.0, description="Seconds between scheduled-export checks.")
    reports_interval_s: float = Field(
        60.0, description="Seconds between checks for due scheduled reports (0: none)."
    )
    replica_id: str | None = Field(
        None,
        description="This replica's name in the jobs lease and /readyz (default: host:pid).",
    )
    lease_ttl_s: float = Field(
        15.0,
        gt=0,
        description="Replicas on PostgreSQL: the jobs lease lasts this long unless renewed; "
        "another replica takes over at most this plus lease_renew_s after the holder dies.",
    )
    lease_renew_s: float = Field(
        5.0, gt=0, description="Seconds between renewals (or attempts to take) the jobs lease."
    )
    reports_dir: Path | None = Field(
        None, description="Root of file-channel report directories (default <data_dir>/reports)."
    )

    @property
    def replica_name(self) -> str:
        return self.replica_id or f"{socket.gethostname()}:{os.getpid()}"

    @property
    def duckdb_path(self) -> Path:
        return self.data_dir / "events.duckdb"

    @property
    def metadata_db_url(self) -> str:
        return self.metadata_url or f"sqlite:///{(self.data_dir / 'metadata.sqlite').resolve()}"
