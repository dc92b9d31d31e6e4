"""The HTTP machinery the fake providers share: a stdlib threading server with chunked streaming."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeUsage:
    """Token counts the fake reports, in PromptPulse's terms.

    cached + cache_write ⊆ input, reasoning ⊆ output. Only Anthropic reports cache writes.
    """

    input_tokens: int = 21
    output_tokens: int = 7
    cached_tokens: int = 16
    reasoning_tokens: int = 3
    cache_write_tokens: int = 0


@dataclass
class Failure:
    status: int
    retry_after: float | None
    remaining: int


@dataclass
class Reply:
    """What a route answers: a JSON body, or a stream of SSE frames (already encoded)."""

    status: int = 200
    body: Any = None
    frames: Iterator[bytes] | None = None
    headers: dict[str, str] = field(default_factory=dict)


class FakeServer:
    """A running fake provider on 127.0.0.1. Attributes may be changed between requests.

    - `usage`: the token counts every answer reports.
    - `delay_s`: seconds to wait before answering anything (to make client timeouts fire).
    - `chunk_delay_s`: seconds between streamed chunks (first chunk included).
    - `fail_next(status, times, retry_after)`: answer the next `times` requests with an error.
    - `requests`: every request body received (parsed JSON), in order.
    Magic model names need no Python access (handy from other processes, e.g. the JS tests):
    `fake-429` always answers 429 with `Retry-After: 0`; `fake-slow` waits `slow_s` seconds first.
    """

    def __init__(self, route: Callable[[FakeServer, str, dict[str, Any]], Reply]) -> None:
        self.usage = FakeUsage()
        self.delay_s = 0.0
        self.slow_s = 5.0
        self.chunk_delay_s = 0.002
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self._failures: list[Failure] = []
        self._route = route
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        handler = _make_handler(self)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self.port = int(self._httpd.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    # -- control ---------------------------------------------------------------------------
    def fail_next(self, status: int = 429, times: int = 1, retry_after: float | None = 0) -> None:
        with self._lock:
            self._failures.append(Failure(status, retry_after, times))

    def sleep(self, seconds: float) -> None:
        """Wait, but wake at once when the server stops."""
        if seconds > 0:
            self._stopping.wait(seconds)

    def take_failure(self) -> Failure | None:
        with self._lock:
            while self._failures:
                head = self._failures[0]
                if head.remaining > 0:
                    head.remaining -= 1
                    return head
                self._failures.pop(0)
            return None

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _make_handler(fake: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go in separate writes

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                payload = json.loads(raw or b"{}")
            except ValueError:
                self._send(Reply(400, {"error": {"message": "body is not JSON"}}))
                return
            with fake._lock:
                fake.requests.append(payload)
                fake.paths.append(self.path)
            fake.sleep(fake.delay_s)
            if payload.get("model") == "fake-slow":
                fake.sleep(fake.slow_s)
            # the client may have given up (a timeout test); nothing to do then
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._send(fake._route(fake, self.path, payload))

        def _send(self, reply: Reply) -> None:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.frames is None:
                data = json.dumps(reply.body).encode()
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for frame in reply.frames:
                fake.sleep(fake.chunk_delay_s)
                self.wfile.write(b"%x\r\n%s\r\n" % (len(frame), frame))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    return Handler


def error_reply(status: int, body: Any, retry_after: float | None) -> Reply:
    headers = {}
    if retry_after is not None:
        headers["Retry-After"] = f"{retry_after:g}"
        headers["retry-after-ms"] = str(int(retry_after * 1000))
    return Reply(status, body, headers=headers)
