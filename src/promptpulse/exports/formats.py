"""Streaming writers: record batches in, one file out (CSV, JSON Lines, Parquet), sha256 as it
is written. Never holds more than one batch."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from promptpulse.lazy import LazyModule

# Imported on the first export: pyarrow.parquet and its file systems cost ~8 MB of the idle
# server.
pq: Any = LazyModule("pyarrow.parquet")
pacsv: Any = LazyModule("pyarrow.csv")

FORMATS: dict[str, str] = {"csv": "csv", "jsonl": "jsonl", "parquet": "parquet"}
# The media type of each format's file, for downloads.
MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv",
    "jsonl": "application/x-ndjson",
    "parquet": "application/vnd.apache.parquet",
}
UTC_TS = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class Written:
    rows: int
    bytes: int
    sha256: str
    schema: list[dict[str, str]]


def _utc(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Stored times are naive UTC; say so in the file."""
    arrays = []
    for col in batch.columns:
        if pa.types.is_timestamp(col.type) and col.type.tz is None:
            col = pc.cast(col, UTC_TS)
        arrays.append(col)
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _json_text(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value, default=_jsonl_default).decode()


# A spreadsheet runs a cell starting with one of these as a formula (`=HYPERLINK(...)` in an
# error message or a user id): OWASP's advice is to prefix such a cell with a quote.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: str | None) -> str | None:
    return "'" + value if value and value.startswith(FORMULA_START) else value


def _csv_ready(batch: pa.RecordBatch) -> pa.RecordBatch:
    """CSV has no lists or structs: a nested column (tags) goes as its JSON text (`["a","b"]`);
    metadata is JSON text already. Text that a spreadsheet would run as a formula is quoted."""
    arrays = []
    for col in batch.columns:
        if pa.types.is_nested(col.type):
            col = pa.array([_json_text(v) for v in col.to_pylist()], type=pa.string())
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            col = pa.array([csv_cell(v) for v in col.to_pylist()], type=col.type)
        arrays.append(col)
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _jsonl_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError


def _jsonl_lines(batch: pa.RecordBatch) -> bytes:
    out = []
    has_meta = "metadata" in batch.schema.names
    for row in batch.to_pylist():
        if has_meta and isinstance(row.get("metadata"), str):
            row["metadata"] = orjson.loads(row["metadata"])
        for k, v in row.items():
            if hasattr(v, "isoformat"):
                row[k] = v.isoformat().replace("+00:00", "Z")
        out.append(orjson.dumps(row, default=_jsonl_default))
    return b"\n".join(out) + b"\n" if out else b""


class _HashingFile:
    """A binary file that hashes what goes through it (pyarrow writes to any such object)."""

    def __init__(self, path: Path) -> None:
        self._f = open(path, "wb")  # noqa: SIM115
        self.sha = hashlib.sha256()
        self.size = 0
        self.closed = False

    def write(self, data: bytes | memoryview) -> int:
        b = bytes(data)
        self.sha.update(b)
        self.size += len(b)
        return self._f.write(b)

    def flush(self) -> None:
        self._f.flush()

    def tell(self) -> int:
        return self.size

    def close(self) -> None:
        if not self.closed:
            self._f.flush()
            os.fsync(self._f.fileno())
            self._f.close()
            self.closed = True

    @property
    def mode(self) -> str:
        return "wb"

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readable(self) -> bool:
        return False


def write(
    fmt: str,
    path: Path,
    batches: Iterable[pa.RecordBatch],
    on_batch: Callable[[int], None] = lambda rows: None,
) -> Written:
    """Write `batches` to `path` (via a temporary name, renamed when complete). The first batch
    may be empty: it still fixes the file's schema."""
    tmp = path.with_name(path.name + ".partial")
    f = _HashingFile(tmp)
    writer: Any = None
    rows = 0
    out_schema: pa.Schema | None = None
    try:
        for raw in batches:
            batch = _utc(raw)
            if fmt == "csv":
                batch = _csv_ready(batch)
            if out_schema is None:
                out_schema = batch.schema
                if fmt == "parquet":
                    writer = pq.ParquetWriter(f, out_schema, compression="zstd")
                elif fmt == "csv":
                    writer = pacsv.CSVWriter(f, out_schema)
            if batch.num_rows:
                if fmt == "jsonl":
                    f.write(_jsonl_lines(batch))
                else:
                    writer.write_batch(batch)
            rows += batch.num_rows
            on_batch(batch.num_rows)
        if writer is not None:
            writer.close()
        f.close()
    except BaseException:
        f.close()
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    described = (
        [
            {"name": n, "type": str(t)}
            for n, t in zip(out_schema.names, out_schema.types, strict=True)
        ]
        if out_schema
        else []
    )
    return Written(rows, f.size, f.sha.hexdigest(), described)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
