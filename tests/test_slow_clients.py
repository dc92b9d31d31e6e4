"""`promptpulse serve` closes a connection whose request headers do not arrive in time
(slowloris), on a fresh connection and on a kept-alive one, and serves complete requests."""

from __future__ import annotations

import re
import selectors
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from promptpulse.app import create_app
from promptpulse.config import Settings
from promptpulse.server import uvicorn_config
from tests.conftest import free_port


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    chosen = free_port()
    settings = Settings(
        data_dir=Path(tmp_path_factory.mktemp("slow")), port=chosen, header_timeout_s=1.5,
        alerts_interval_s=0, log_level="warning",
    )  # fmt: skip
    server = uvicorn.Server(uvicorn_config(create_app(settings), settings))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield chosen
    server.should_exit = True
    thread.join(timeout=30)


def _closed_by_server(s: socket.socket) -> bool:
    """True when the server closes the connection (recv gives EOF) before the 20 s timeout."""
    s.settimeout(20)
    try:
        return s.recv(1024) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def _one_response(s: socket.socket) -> bytes:
    """One whole response (headers, then Content-Length bytes of body). A loaded server may
    send them in two segments: reading one recv's worth left the body to be taken for the
    server's answer to the next request (a flaky failure under the full suite)."""
    s.settimeout(20)
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
    while len(body) < length:
        body += s.recv(4096)
    return data


def test_headers_sent_too_slowly_close_the_connection(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finished
        assert _closed_by_server(s)


def test_a_connection_that_sends_nothing_is_closed(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as s:
        assert _closed_by_server(s)


def test_complete_requests_are_served_and_a_slow_second_one_is_closed(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _one_response(s).startswith(b"HTTP/1.1 200")
        s.sendall(b"GET /healthz HTTP/1.1\r\nHo")  # the next request, cut short
        assert _closed_by_server(s)


def _answer(s: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    s.settimeout(20)
    chunks = []
    while chunk := s.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_a_header_block_over_the_limit_is_431_before_it_ends(port: int) -> None:
    """The block is refused while it arrives (httptools would buffer any size): it never ends.
    A piece at a time, until the server answers, so that it has read all that was sent."""
    # A selector, not select(): a suite's worker may hold more than 1,024 descriptors.
    with socket.create_connection(("127.0.0.1", port)) as s, selectors.DefaultSelector() as ready:
        ready.register(s, selectors.EVENT_READ)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
        sent = 0
        while not ready.select(0.02):
            assert sent < 1024 * 1024, "a megabyte of one header and still no answer"
            s.sendall(b"a" * 4096)
            sent += 4096
        answer = _answer(s)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
    assert b"32768" in answer  # the detail names the limit
    assert 32 * 1024 - 4096 < sent < 256 * 1024  # refused near the limit, not after all of it


def test_a_large_header_under_the_limit_is_served_on_a_kept_alive_connection(port: int) -> None:
    header = b"X-Big: " + b"a" * 20_000 + b"\r\n"
    with socket.create_connection(("127.0.0.1", port)) as s:
        for _ in range(2):
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + header + b"\r\n")
            assert _one_response(s).startswith(b"HTTP/1.1 200")
