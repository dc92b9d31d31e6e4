"""Every setting, defined once. Env vars are `PROMPTPULSE_<NAME>`; CLI flags override them."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4}
_UNITS |= {"kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}


def size_bytes(text: str) -> int:
    """DuckDB's size syntax ('128MB', '1GiB', '500 kb') in bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if match is None or match.group(2).lower() not in _UNITS:
        raise ValueError(f"not a size: {text!r} (say 128MB or 1GiB)")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


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
    store_url: str | None = Field(
        None,
        description="The event store: duckdb:///path (default: events.duckdb in the data "
        "directory), clickhouse://user:pass@host:8123/db (?secure=true for TLS) or chdb:///path "
        "(ClickHouse embedded in the process).",
    )
    clickhouse_cluster: str | None = Field(
        None,
        description="ClickHouse cluster name: Replicated tables, ON CLUSTER DDL and Distributed "
        "tables sharded by (project, id).",
    )
    clickhouse_connect_timeout_s: float = Field(
        10.0, description="Seconds to connect to a ClickHouse server."
    )
    duckdb_memory_limit: str = Field(
        "400MB",
        description="DuckDB memory_limit: its cache and its queries' working memory (the process "
        "uses ~230 MB more at 10 M calls). 128MB keeps a 10 M-call server's peak under 500 MB, "
        "its dashboards' queries ~10-25 % slower and exact breakdowns by many groups (users, "
        "prompts) several times slower (docs/performance.md).",
    )
    duckdb_threads: int | None = Field(None, description="DuckDB threads (default: all cores).")
    duckdb_checkpoint_threshold: str = Field(
        "128MB",
        description="WAL size at which the store checkpoints, in a background thread so that "
        "no commit waits for it (DuckDB's own checkpoint_threshold is 4x this, a backstop; its "
        "default 16MB made ingest checkpoint every ~30,000 calls).",
    )

    @field_validator("duckdb_checkpoint_threshold")
    @classmethod
    def _a_size(cls, value: str) -> str:
        size_bytes(value)  # a ValueError names what is wrong; pydantic names the setting
        return value

    max_batch_events: int = Field(10_000, description="Most events in one ingest request.")
    max_body_bytes: int = Field(10 * 1024 * 1024, description="Largest decompressed request body.")
    max_header_bytes: int = Field(
        32 * 1024, description="Largest request header block (a larger one is answered 431)."
    )
    header_timeout_s: float = Field(
        10.0, description="A connection whose request headers take longer than this is closed."
    )
    auth_failures_burst: int = Field(
        100,
        description="Failed authentications one client address may make at once before "
        "it is answered 429 (0: no throttling).",
    )
    auth_failures_per_s: float = Field(
        10.0, description="Failed authentications per second an address earns back."
    )
    writer_queue_events: int = Field(
        200_000, description="Events waiting for the writer before ingest answers 429."
    )
    writer_queue_s: float = Field(
        3.0,
        description="Seconds of work (at the writer's recent rate) queued before ingest "
        "answers 429 with Retry-After (0: bounded by events only).",
    )
    parse_workers: int = Field(
        default_factory=lambda: max(1, (os.cpu_count() or 2) // 2),
        ge=0,
        le=64,
        description="Processes that parse and validate ingest batches (started with the "
        "server), so that parsing leaves the server's GIL to the writer; default half the "
        "cores, at least 1 (0: threads in the server's own process, for a replica that never "
        "ingests).",
    )
    writer_group_events: int = Field(
        50_000, description="Most events the writer commits in one transaction."
    )
    query_timeout_s: float = Field(
        30.0,
        description="A read request's queries are interrupted once it has run this long "
        "(every statement of it together; sooner when the client disconnects).",
    )
    query_concurrency: int = Field(
        0,
        ge=0,
        description="DuckDB statements that run at once; the rest queue within their request's "
        "time (0, the default: no bound; cores - 1 keeps a core for the ingest writer: half the "
        "ingest lost under dashboard load, dashboards about 2x slower).",
    )
    query_share: float = Field(
        0.15,
        gt=0,
        le=1,
        description="While ingest is busy (the writer committing a tenth of its time or more), "
        "DuckDB statements run one at a time and hold at most this share of the cores (by the CPU "
        "they use), so that ingest keeps its rate while dashboards read (1: no bound; dashboards "
        "then take a like share of the ingest rate).",
    )
    log_level: str = Field("info", description="Log level of the server.")
    alerts_interval_s: float = Field(
        30.0, description="Seconds between alert evaluation rounds (0: only on demand)."
    )
    alerts_max_attempts: int = Field(5, description="Tries per alert notification.")
    budget_check_refresh_s: float = Field(
        30.0,
        gt=0,
        description="Seconds between refreshes from the store of the budget state that "
        "GET /v1/budgets/check reads (every replica; its own commits count at once).",
    )
    alerts_retry_base_s: float = Field(
        2.0, description="First retry delay of a failed notification; doubles each try."
    )
    smtp_url: str | None = Field(
        None,
        description="SMTP server for email alerts: smtp://[user:pass@]host[:port], "
        "smtps://... (TLS) or smtp+starttls://...",
    )
    allowed_hosts: str | None = Field(
        None,
        description="Comma list of host names and CIDR ranges that webhooks, Slack and "
        "PagerDuty may reach although private, loopback or link-local (default: none).",
    )
    secret_key: str | None = Field(
        None,
        description="Fernet key that encrypts channel secrets (webhook URLs, routing keys, "
        "signing secrets, headers) in the metadata database; unset: stored in plain text.",
    )
    secret_key_old: str | None = Field(
        None, description="A previous secret key, still read while rotating to a new one."
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
    reprice_interval_s: float = Field(
        5.0,
        description="Seconds between runs of queued reprices (a new price for unpriced "
        "calls) and resumes of interrupted ones (0: never).",
    )
    reprice_wait_s: float = Field(
        20.0,
        ge=0,
        description="Seconds POST /v1/prices/reprice waits for a reprice that writes; one "
        "still running then is answered 202 with its id and goes on (GET "
        "/v1/prices/reprices/{id} follows it).",
    )
    unpriced_reprice_interval_s: float = Field(
        3600.0,
        description="Seconds between passes that reprice unpriced calls of models a price "
        "is now known for (the first a minute after start-up).",
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
    export_keep_hours: float = Field(
        168.0, description="One-off export files are deleted this long after they finish (0: kept)."
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
    metadata_outage_grace_s: float = Field(
        300.0,
        description="While the metadata database cannot be reached, keys this server verified "
        "within this many seconds keep working (reads and ingest go on); changes answer 503.",
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
    def secret_keys(self) -> list[str]:
        return [k for k in (self.secret_key, self.secret_key_old) if k]

    @property
    def metadata_db_url(self) -> str:
        return self.metadata_url or f"sqlite:///{(self.data_dir / 'metadata.sqlite').resolve()}"
