"""A ClickHouse HTTP front over chdb, so that several processes (replicas) can share one real
ClickHouse engine in the tests. Test harness, not product code: production runs a real
ClickHouse server (docs/deploy-scale.md).

One process may open a chdb data path at a time and chdb cannot listen on a port, so this
process opens the path and speaks the part of ClickHouse's HTTP interface that
clickhouse-connect's HTTP client uses, unmodified:

- the query in the URL (`query=`) or the body, or both (URL first, then the body's text), or
  with its parameters as multipart/form-data fields (clickhouse-connect's way for long ones);
  an INSERT's data in the body after its `INSERT ... FORMAT <fmt>` (the URL's query); the
  body may be compressed (Content-Encoding gzip, deflate, br, zstd, lz4);
- `param_<name>` values for `{name:Type}` placeholders; `database`; `default_format`
  (TabSeparated when neither it nor a FORMAT clause says otherwise);
- every other URL parameter is a setting, applied with SET (chdb shares settings between the
  connections of one engine, so a setting is the engine's from then on);
- `session_id`: one chdb connection per session (chdb 4.4 allows many connections to one
  engine in one process), others from a small pool; one statement at a time per connection;
- answers as ClickHouse does: the result bytes in the asked format (Native, Arrow,
  RowBinary, JSON ... all chdb's own), X-ClickHouse-Summary/Query-Id/Format/Timezone headers;
  errors as status 500 with X-ClickHouse-Exception-Code and the exception text, which
  clickhouse-connect parses; GET /ping answers `Ok.`.

TCP_NODELAY is set on every accepted socket: without it each request waits ~45 ms on Nagle's
algorithm and delayed ACKs.

    python -m tests.harness.chfront --path DIR --port N
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import queue
import re
import socket
import threading
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import chdb

log = logging.getLogger("chfront")

# URL parameters of the HTTP interface itself, never settings.
HTTP_ONLY = {
    "query", "database", "default_format", "session_id", "session_timeout", "session_check",
    "query_id", "user", "password", "compress", "decompress", "enable_http_compression",
    "http_zlib_compression_level", "wait_end_of_query", "send_progress_in_http_headers",
    "http_headers_progress_interval_ms", "buffer_size", "quota_key", "role",
    "client_protocol_version", "http_response_buffer_size",
    "cancel_http_readonly_queries_on_client_close",
}  # fmt: skip
FORMAT_AT_END = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*$", re.IGNORECASE)
# `INSERT INTO t (cols) FORMAT <fmt>` then the data: in the URL's query with the data as the
# body, or all in the body (clickhouse-connect's way), the data after one line break.
INSERT_FORMAT = re.compile(
    rb"^(?P<head>\s*INSERT\s.*?)\s+FORMAT\s+(?P<fmt>\w+)[ \t]*(\r?\n)?", re.I | re.S
)
ERROR_CODE = re.compile(r"Code:\s*(\d+)")
RESULTLESS = re.compile(r"^\s*(CREATE|DROP|ALTER|INSERT|SET|USE|TRUNCATE|RENAME|OPTIMIZE|SYSTEM|"
                        r"DELETE|GRANT|REVOKE|KILL|DETACH|ATTACH)\b", re.IGNORECASE)  # fmt: skip


@dataclass
class Session:
    conn: Any
    lock: threading.Lock = field(default_factory=threading.Lock)
    settings: dict[str, str] = field(default_factory=dict)
    database: str = "default"


class Engine:
    """One chdb data path, its named sessions and a pool of connections for the rest."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._sessions: dict[str, Session] = {}
        self._pool: queue.SimpleQueue[Session] = queue.SimpleQueue()
        self._guard = threading.Lock()
        self._all: list[Session] = []

    def _new(self) -> Session:
        made = Session(chdb.connect(self.path))
        with self._guard:
            self._all.append(made)
        return made

    @contextmanager
    def session(self, session_id: str | None) -> Iterator[Session]:
        if session_id:
            with self._guard:
                found = self._sessions.get(session_id)
            if found is None:
                found = self._new()
                with self._guard:
                    found = self._sessions.setdefault(session_id, found)
            with found.lock:
                yield found
            return
        try:
            pooled = self._pool.get_nowait()
        except queue.Empty:
            pooled = self._new()
        try:
            with pooled.lock:
                yield pooled
        finally:
            self._pool.put(pooled)

    def close(self) -> None:
        with self._guard:
            for s in self._all:
                s.conn.close()
            self._all.clear()
            self._sessions.clear()


def decompress(body: bytes, encoding: str | None) -> bytes:
    if not encoding or encoding == "identity":
        return body
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj().decompress(body)
    if encoding == "lz4":
        import lz4.frame

        return bytes(lz4.frame.decompress(body))
    if encoding == "br":
        import brotli  # type: ignore[import-not-found]

        return bytes(brotli.decompress(body))
    raise ValueError(
        f"Code: 1. DB::Exception: Unknown Content-Encoding {encoding}. (UNSUPPORTED_METHOD)"
    )


def form_fields(body: bytes, content_type: str) -> dict[str, str]:
    """The fields of a multipart/form-data body, by name."""
    boundary = content_type.split("boundary=", 1)[1].strip().strip('"').encode()
    fields = {}
    for part in body.split(b"--" + boundary):
        head, sep, value = part.partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]*)"', head)
        if sep and name:
            fields[name.group(1).decode()] = value.removesuffix(b"\r\n").decode()
    return fields


class ClickHouseError(Exception):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        found = ERROR_CODE.search(text)
        self.code = found.group(1) if found else "1000"


def _apply(session: Session, settings: dict[str, str], database: str | None) -> None:
    for name, value in settings.items():
        if session.settings.get(name) != value:
            session.conn.query(f"SET {name} = {_literal(value)}")
            session.settings[name] = value
    if database and database != session.database:
        session.conn.query(f"USE `{database}`")
        session.database = database


def _literal(value: str) -> str:
    if re.fullmatch(r"-?\d+(\.\d+)?", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def run(engine: Engine, params: dict[str, str], body: bytes) -> tuple[bytes, str, dict[str, int]]:
    """Run one request: (result bytes, output format, summary)."""
    url_query = params.get("query", "")
    values = {k.removeprefix("param_"): v for k, v in params.items() if k.startswith("param_")}
    settings = {
        k: v for k, v in params.items() if k not in HTTP_ONLY and not k.startswith("param_")
    }
    insert = INSERT_FORMAT.match(url_query.encode() + (b"\n" + body if url_query else body))
    with engine.session(params.get("session_id")) as session:
        try:
            _apply(session, settings, params.get("database"))
            if insert:
                head, fmt = insert.group("head").decode(), insert.group("fmt").decode()
                data = (url_query.encode() + b"\n" + body if url_query else body)[insert.end() :]
                with session.conn.send_insert(head, fmt) as inserter:
                    inserter.append(data)
                    done = inserter.finish()
                return b"", "TabSeparated", {"written_rows": done.rows_written}
            sql = (url_query + ("\n" if url_query and body else "") + body.decode()).strip()
            found = FORMAT_AT_END.search(sql)
            fmt = found.group(1) if found else params.get("default_format", "TabSeparated")
            if found is None and not RESULTLESS.match(sql):
                sql = f"{sql}\nFORMAT {fmt}"
            result = session.conn._conn.query(sql, fmt, params=values)
        except (RuntimeError, ValueError) as exc:  # chdb's wrappers cut: the engine's text
            text = str(exc)
            log.info("query failed: %r (URL query %r): %s", body[:300], url_query[:300], text)
            raise ClickHouseError(text[text.find("Code:") :] if "Code:" in text else text) from None
        summary = {"read_rows": result.rows_read(), "written_rows": result.rows_written()}
        return result.bytes(), fmt, summary


class Handler(BaseHTTPRequestHandler):
    server: Front
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        split = urlsplit(self.path)
        if split.path in ("/ping", "/") and not split.query:
            return self._send(200, b"Ok.\n", {"Content-Type": "text/plain; charset=UTF-8"})
        self._query(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = self._chunked()
        else:
            body = self.rfile.read(length)
        try:
            body = decompress(body, self.headers.get("Content-Encoding"))
        except Exception as exc:
            return self._error(ClickHouseError(f"Code: 432. DB::Exception: {exc}"))
        self._query(body)

    def _chunked(self) -> bytes:
        parts = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                self.rfile.readline()
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    def _query(self, body: bytes) -> None:
        params = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("multipart/form-data"):
            # Long parameters come as form fields (query, param_<name>), not in the URL.
            params.update(form_fields(body, content_type))
            body = b""
        query_id = params.get("query_id") or str(uuid.uuid4())
        try:
            data, fmt, summary = run(self.server.engine, params, body)
        except ClickHouseError as exc:
            return self._error(exc, query_id)
        self._send(200, data, {
            "Content-Type": "application/octet-stream",
            "X-ClickHouse-Format": fmt,
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Timezone": "UTC",
            "X-ClickHouse-Summary": json.dumps({k: str(v) for k, v in summary.items()}),
        })  # fmt: skip

    def _error(self, exc: ClickHouseError, query_id: str = "") -> None:
        text = str(exc)
        if not text.startswith("Code:"):
            text = f"Code: {exc.code}. DB::Exception: {text}"
        self._send(500, (text + "\n").encode(), {
            "Content-Type": "text/plain; charset=UTF-8",
            "X-ClickHouse-Exception-Code": exc.code,
            "X-ClickHouse-Query-Id": query_id,
        })  # fmt: skip

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Front(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, path: str, port: int = 0, host: str = "127.0.0.1") -> None:
        self.engine = Engine(path)
        super().__init__((host, port), Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> Front:
        threading.Thread(target=self.serve_forever, name="chfront", daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self.engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", required=True, help="the chdb data directory")
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    front = Front(args.path, args.port, args.host)
    print(f"ClickHouse HTTP front over chdb {args.path} on {args.host}:{front.port}", flush=True)
    try:
        front.serve_forever()
    finally:
        front.engine.close()


if __name__ == "__main__":
    main()
