"""Exports through the in-process API: every format writes every column (the default set and a
chosen one); CSV carries lists and JSON as JSON text. Each file is parsed back and compared, column
by column, with what was ingested."""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest
from starlette.testclient import TestClient

from promptpulse.exports.service import CALL_COLUMNS
from tests.conftest import InProcessApp, iso

NOW = datetime.now(UTC).replace(microsecond=0)


def _events(project: str) -> list[dict[str, Any]]:
    full = {
        "id": f"{project}-full",
        "timestamp": iso(NOW - timedelta(minutes=5)),
        "project": project,
        "prompt_id": "greet",
        "prompt_version": "v2",
        "model": "gpt-4o-mini",
        "provider": "openai",
        "environment": "prod",
        "feature": "chat",
        "user_id": "u1",
        "session_id": "s1",
        "service": "api",
        "tags": ["a", "b, with a comma", 'quote "q"'],
        "metadata": {"k": "v", "n": 1, "nested": {"x": [1, 2]}},
        "status": "error",
        "error_type": "timeout",
        "error_message": "line one\nline two",
        "http_status": 504,
        "latency_ms": 1234.5,
        "ttft_ms": 210.25,
        "queue_ms": 3.5,
        "input_tokens": 120,
        "output_tokens": 45,
        "cached_tokens": 10,
        "reasoning_tokens": 7,
        "cache_write_tokens": 30,
        "response_model": "m-2026-01-01",
        "cost_usd": 0.0125,
        "cache_hit": True,
        "retries": 2,
    }
    bare = {
        "id": f"{project}-bare",
        "timestamp": iso(NOW - timedelta(minutes=4)),
        "model": "m",
        "latency_ms": 10.0,
        "cost_usd": 0.5,
    }
    return [full, bare]


# What ingest fills in for fields an event leaves out.
DEFAULTS: dict[str, Any] = {
    "tags": [],
    "status": "success",
    "input_tokens": 0,
    "output_tokens": 0,
    "cached_tokens": 0,
    "reasoning_tokens": 0,
    "cache_write_tokens": 0,
    "cache_hit": False,
    "retries": 0,
    "price_ref": "client",  # both events give their cost
}


def _expected(project: str) -> dict[str, dict[str, Any]]:
    out = {}
    for e in _events(project):
        row = {c: e.get(c, DEFAULTS.get(c)) for c in CALL_COLUMNS}
        row["project"] = project
        out[e["id"]] = row
    return out


@pytest.fixture(scope="module")
def setup(app: InProcessApp) -> tuple[str, str]:
    project = f"x-{uuid.uuid4().hex[:8]}"
    key = app.key(project, "ingest,read")
    with app.client(key) as c:
        r = c.post("/v1/events", json={"events": _events(project)})
        assert r.status_code == 200, r.text
        assert r.json().get("accepted", 2) == 2, r.text
    return project, key


def _export(c: TestClient, fmt: str, columns: list[str] | None) -> bytes:
    body: dict[str, Any] = {
        "format": fmt,
        "from": iso(NOW - timedelta(hours=1)),
        "to": iso(NOW + timedelta(hours=1)),
    }
    if columns is not None:
        body["columns"] = columns
    r = c.post("/v1/exports", json=body)
    assert r.status_code == 202, r.text
    job = r.json()
    for _ in range(500):
        if job["status"] not in ("queued", "running"):
            break
        time.sleep(0.02)
        job = c.get(f"/v1/exports/{job['id']}").json()
    assert job["status"] == "done", job
    return c.get(f"/v1/exports/{job['id']}/download").content


INT_COLUMNS = (
    "http_status",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "cache_write_tokens",
    "retries",
)


def _csv_value(column: str, text: str) -> Any:
    """A CSV cell back to the ingested value: JSON text for tags and metadata, pyarrow's CSV
    spelling for the rest; an empty cell is null."""
    if text == "":
        return [] if column == "tags" else None
    if column in ("tags", "metadata"):
        return json.loads(text)
    if column == "timestamp":
        return datetime.fromisoformat(text)
    if column == "cache_hit":
        return {"true": True, "false": False}[text]
    if column in ("latency_ms", "ttft_ms", "queue_ms", "cost_usd"):
        return float(text)
    if column in INT_COLUMNS:
        return int(text)
    return text


def _rows(fmt: str, body: bytes) -> list[dict[str, Any]]:
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(body.decode()))
        return [{k: _csv_value(k, v) for k, v in row.items()} for row in reader]
    if fmt == "jsonl":
        rows = [orjson.loads(line) for line in body.splitlines()]
        for r in rows:
            if "timestamp" in r:
                r["timestamp"] = datetime.fromisoformat(r["timestamp"])
        return rows
    rows = pq.read_table(io.BytesIO(body)).to_pylist()
    for r in rows:
        if isinstance(r.get("metadata"), str):
            r["metadata"] = json.loads(r["metadata"])
    return rows


def _compare(rows: list[dict[str, Any]], columns: tuple[str, ...], project: str) -> None:
    want = _expected(project)
    assert len(rows) == len(want)
    for row in rows:
        assert tuple(row) == columns  # every column, in order
        expected = want[row["id"]]
        for c in columns:
            value = expected[c]
            if c == "timestamp":
                value = datetime.fromisoformat(value.replace("Z", "+00:00"))
            assert row[c] == value, (c, row[c], value)


def test_a_csv_export_with_the_default_columns_carries_every_column(
    app: InProcessApp, setup: tuple[str, str]
) -> None:
    project, key = setup
    with app.client(key) as c:
        body = _export(c, "csv", None)
    text = body.decode()
    header = next(csv.reader(io.StringIO(text)))
    assert tuple(header) == CALL_COLUMNS
    raw = {r["id"]: r for r in csv.DictReader(io.StringIO(text))}
    assert raw[f"{project}-full"]["tags"] == '["a","b, with a comma","quote \\"q\\""]'
    assert json.loads(raw[f"{project}-full"]["metadata"]) == _events(project)[0]["metadata"]
    assert raw[f"{project}-bare"]["tags"] == "[]"
    _compare(_rows("csv", body), CALL_COLUMNS, project)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
@pytest.mark.parametrize(
    "columns", [None, ["id", "tags", "metadata", "timestamp", "cache_hit", "http_status"]]
)
def test_every_format_exports_every_column(
    app: InProcessApp, setup: tuple[str, str], fmt: str, columns: list[str] | None
) -> None:
    project, key = setup
    with app.client(key) as c:
        body = _export(c, fmt, columns)
    _compare(_rows(fmt, body), tuple(columns) if columns else CALL_COLUMNS, project)


def test_csv_cells_a_spreadsheet_would_run_are_quoted(app: InProcessApp) -> None:
    """OWASP CSV injection: text starting with = + - @ (or a tab/CR) goes out with a leading
    quote in CSV; JSONL and Parquet keep the value as sent."""
    project = f"x-{uuid.uuid4().hex[:8]}"
    key = app.key(project, "ingest,read")
    hostile = '=HYPERLINK("http://evil.example","click")'
    event = {
        "id": "csv-formula", "timestamp": iso(NOW - timedelta(minutes=5)), "model": "m",
        "latency_ms": 1, "user_id": hostile, "feature": "+1", "prompt_id": "-x", "service": "@s",
        "environment": "plain",
    }  # fmt: skip
    with app.client(key) as c:
        assert c.post("/v1/events", json={"events": [event]}).status_code == 200
        text = _export(
            c, "csv", ["id", "user_id", "feature", "prompt_id", "service", "environment"]
        )
        lines = _export(c, "jsonl", ["id", "user_id"])
    (row,) = list(csv.DictReader(io.StringIO(text.decode())))
    assert row["user_id"] == "'" + hostile
    assert (row["feature"], row["prompt_id"], row["service"]) == ("'+1", "'-x", "'@s")
    assert row["environment"] == "plain"
    assert json.loads(lines.decode().splitlines()[0])["user_id"] == hostile


def test_finished_exports_are_deleted_after_their_keep_time(
    app: InProcessApp, setup: tuple[str, str]
) -> None:
    _, key = setup
    with app.client(key) as c:
        _export(c, "jsonl", ["id"])
        service = app.ctx.exports
        jobs = {d.name for d in service.root.iterdir()}
        assert jobs and service.prune(datetime.now(UTC)) == []  # still fresh
        later = datetime.now(UTC) + timedelta(hours=app.settings.export_keep_hours + 1)
        assert set(service.prune(later)) == jobs
        assert not any(service.root.iterdir())
        assert c.get(f"/v1/exports/{sorted(jobs)[0]}").status_code == 404
