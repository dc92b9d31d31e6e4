"""Export jobs (one-off, from the API or CLI) and scheduled exports to a directory.

A job runs in a worker thread: it counts the rows, streams record batches from the store into
one file (progress = rows written / rows), then writes a manifest: row count, time range,
filters, columns and schema, and the sha256 of each file. File names carry the job id, so they
never collide. Jobs and their files live under `<data dir>/exports/<id>/`; the manifest is the
record of a finished job, so finished jobs survive a restart.

Scheduled exports cut time into windows of *arrival* (`received_at`, hourly or daily): every
call arrives exactly once, so every call lands in exactly one window, late calls (an old
`timestamp`) included: they are in the window they arrived in. A window is written once it has
been closed for the grace period (so calls still in the writer's queue are committed); the next
window to write is kept in a state file in the directory, written after the window's files, and
a window's file names are fixed, so a crash in between rewrites the same files: no gap, no
overlap.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from promptpulse.config import Settings
from promptpulse.errors import NotFound, invalid
from promptpulse.exports import formats
from promptpulse.model import CALL_FIELDS, Filter, Scope
from promptpulse.store import Store
from promptpulse.tasks import DaemonTask

log = logging.getLogger("promptpulse.exports")

SOURCES = ("calls", "hourly", "daily")
CALL_COLUMNS: tuple[str, ...] = tuple(n for n in CALL_FIELDS if n != "received_at")
WINDOWS = {"hourly": timedelta(hours=1), "daily": timedelta(days=1)}
STATE_FILE = ".promptpulse-export-state.json"


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _stamp(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


@dataclass(frozen=True)
class ExportRequest:
    format: str
    source: str
    scope: Scope
    columns: tuple[str, ...]
    project: str | None  # the owning key's project (None: an admin's export)

    @staticmethod
    def validate(
        store: Store,
        fmt: str,
        source: str,
        columns: list[str] | None,
        scope: Scope,
        project: str | None,
    ) -> ExportRequest:
        """The request, or Invalid naming the field; rollup columns and dimensions are the
        store's."""
        if fmt not in formats.FORMATS:
            raise invalid("format", f"'{fmt}' is not one of {', '.join(formats.FORMATS)}")
        if source not in SOURCES:
            raise invalid("source", f"'{source}' is not one of {', '.join(SOURCES)}")
        allowed = CALL_COLUMNS if source == "calls" else store.rollup_columns
        chosen = tuple(columns) if columns else allowed
        unknown = [c for c in chosen if c not in allowed]
        if unknown:
            raise invalid(
                "columns",
                f"unknown for {source}: {', '.join(unknown)}; choose from {', '.join(allowed)}",
            )
        if source != "calls":
            dims = store.rollup_dimensions
            bad = [f.dimension for f in scope.filters if f.dimension not in dims]
            if bad:
                raise invalid(
                    "filters",
                    f"{source} rollups can be filtered by "
                    f"{', '.join(dims)} only, not {', '.join(bad)}",
                )
        return ExportRequest(fmt, source, scope, tuple(dict.fromkeys(chosen)), project)


@dataclass
class Job:
    id: str
    request: ExportRequest
    directory: Path
    status: str = "queued"  # queued | running | done | failed
    rows_total: int | None = None
    rows_written: int = 0
    error: str | None = None
    manifest: dict[str, Any] | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def as_dict(self) -> dict[str, Any]:
        fraction = (
            1.0
            if self.status == "done"
            else (self.rows_written / self.rows_total if self.rows_total else 0.0)
        )
        return {
            "id": self.id,
            "status": self.status,
            "format": self.request.format,
            "source": self.request.source,
            "progress": {
                "rows_written": self.rows_written,
                "rows_total": self.rows_total,
                "fraction": round(fraction, 4),
            },
            "error": self.error,
            "manifest": self.manifest,
        }


def filters_dict(scope: Scope) -> dict[str, list[str]]:
    return {f.dimension: list(f.values) for f in scope.filters}


def export_file(
    store: Any,
    req: ExportRequest,
    directory: Path,
    name: str,
    on_total: Callable[[int], None] = lambda n: None,
    on_batch: Callable[[int], None] = lambda n: None,
    time_column: str = "timestamp",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write one export file and its manifest (`<name>.manifest.json`); returns the manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    total, batches = store.export_batches(req.source, req.columns, req.scope, time_column)
    on_total(total)
    path = directory / f"{name}.{req.format}"
    written = formats.write(req.format, path, batches, on_batch)
    manifest = {
        "format": req.format,
        "source": req.source,
        "from": _iso(req.scope.start),
        "to": _iso(req.scope.end),
        "time_column": time_column,
        "filters": filters_dict(req.scope),
        "columns": list(req.columns),
        "schema": written.schema,
        "row_count": written.rows,
        "files": [
            {
                "name": path.name,
                "rows": written.rows,
                "bytes": written.bytes,
                "sha256": written.sha256,
            }
        ],
        **(extra or {}),
    }
    tmp = directory / f"{name}.manifest.json.partial"
    tmp.write_text(json.dumps(manifest, indent=2))
    tmp.replace(directory / f"{name}.manifest.json")
    return manifest


class ExportService:
    def __init__(self, store: Store, settings: Settings, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.root = settings.data_dir / "exports"
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="promptpulse-export")

    # ---------------------------------------------------------------- one-off jobs

    def submit(self, req: ExportRequest) -> Job:
        job_id = uuid.uuid4().hex[:16]
        job = Job(job_id, req, self.root / job_id)
        with self._lock:
            self._jobs[job_id] = job
        self._pool.submit(self._run, job)
        return job

    def _run(self, job: Job) -> None:
        job.status = "running"
        req = job.request
        name = (
            f"promptpulse-{req.source}-{_stamp(req.scope.start)}-{_stamp(req.scope.end)}-{job.id}"
        )

        def total(n: int) -> None:
            job.rows_total = n

        def batch(n: int) -> None:
            job.rows_written += n

        try:
            job.manifest = export_file(
                self.store,
                req,
                job.directory,
                name,
                total,
                batch,
                extra={
                    "id": job.id,
                    "project": req.project,
                    "created_at": _iso(job.created_at),
                    "finished_at": None,
                },
            )
            job.manifest["finished_at"] = _iso(datetime.now(UTC))
            (job.directory / f"{name}.manifest.json").write_text(json.dumps(job.manifest, indent=2))
            job.status = "done"
        except Exception as exc:
            log.exception("export %s failed", job.id)
            job.status = "failed"
            job.error = str(exc)

    def get(self, job_id: str, project: str | None) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            job = self._load(job_id)
        if job is None or (project is not None and job.request.project != project):
            raise NotFound(f"no export {job_id}")
        return job

    def _load(self, job_id: str) -> Job | None:
        """A job finished before a restart, from its manifest."""
        if not job_id.isalnum():
            return None
        found = sorted((self.root / job_id).glob("*.manifest.json"))
        if not found:
            return None
        m = json.loads(found[0].read_text())
        scope = Scope(
            datetime.fromisoformat(m["from"].replace("Z", "+00:00")),
            datetime.fromisoformat(m["to"].replace("Z", "+00:00")),
            tuple(Filter(k, tuple(v)) for k, v in m["filters"].items()),
        )
        req = ExportRequest(m["format"], m["source"], scope, tuple(m["columns"]), m["project"])
        job = Job(
            job_id, req, self.root / job_id, "done", m["row_count"], m["row_count"], manifest=m
        )
        with self._lock:
            self._jobs[job_id] = job
        return job

    def file_of(self, job: Job) -> Path:
        if job.status != "done" or not job.manifest:
            raise NotFound(f"export {job.id} is {job.status}, not done")
        return job.directory / job.manifest["files"][0]["name"]

    def wait(self, job_id: str, timeout_s: float = 60) -> Job:
        """For tests and the CLI in-process: block until the job is done or failed."""
        import time

        deadline = time.monotonic() + timeout_s
        job = self.get(job_id, None)
        while job.status in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.02)
        return job

    # ---------------------------------------------------------------- scheduled exports

    def prune(self, now: datetime | None = None) -> list[str]:
        """Delete one-off exports finished more than `export_keep_hours` ago (their files and
        job); returns their ids. Scheduled exports in `export_dir` are the operator's."""
        keep = self.settings.export_keep_hours
        if keep <= 0 or not self.root.is_dir():
            return []
        cutoff = (now or self.clock()).timestamp() - keep * 3600
        gone = []
        for directory in self.root.iterdir():
            manifests = list(directory.glob("*.manifest.json"))
            if directory.is_dir() and manifests and manifests[0].stat().st_mtime < cutoff:
                shutil.rmtree(directory, ignore_errors=True)
                with self._lock:
                    self._jobs.pop(directory.name, None)
                gone.append(directory.name)
        return gone

    def daemons(self) -> list[DaemonTask]:
        s = self.settings

        async def prune() -> None:
            await asyncio.to_thread(self.prune)

        tasks = [DaemonTask("export-retention", 3600.0, prune)] if s.export_keep_hours > 0 else []
        if not s.export_schedule or s.export_dir is None:
            return tasks

        async def run_once() -> None:
            await asyncio.to_thread(self.run_scheduled)

        return [*tasks, DaemonTask("scheduled-exports", s.export_interval_s, run_once)]

    def run_scheduled(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """Write every window of arrival time that has been closed for the grace period and is
        not yet written; returns their manifests."""
        s = self.settings
        if not s.export_schedule or s.export_dir is None:
            return []
        now = now or self.clock()
        step = WINDOWS[s.export_schedule]
        directory = Path(s.export_dir)
        directory.mkdir(parents=True, exist_ok=True)
        state = directory / STATE_FILE
        if state.exists():
            start = datetime.fromisoformat(json.loads(state.read_text())["next"])
        else:
            start = _floor(now - step, step)
        done = []
        while start + step + timedelta(seconds=s.export_grace_s) <= now:
            end = start + step
            scope = Scope(start, end)
            req = ExportRequest(s.export_format, "calls", scope, CALL_COLUMNS, None)
            name = f"calls-{_stamp(start)}"
            done.append(
                export_file(
                    self.store,
                    req,
                    directory,
                    name,
                    time_column="received_at",
                    extra={"window": {"from": _iso(start), "to": _iso(end)}},
                )
            )
            tmp = state.with_name(STATE_FILE + ".partial")
            tmp.write_text(json.dumps({"next": end.isoformat()}))
            tmp.replace(state)
            start = end
        return done

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _floor(t: datetime, step: timedelta) -> datetime:
    t = t.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return t.replace(hour=0) if step >= timedelta(days=1) else t
