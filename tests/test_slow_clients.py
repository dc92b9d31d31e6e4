"""`promptpulse serve` closes a connection whose request headers do not arrive in time
(slowloris), on a fresh connection and on a kept-alive one, and serves complete requests."""

from __future__ import annotations

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
        data_dir=Path(tmp_path_factory.mktemp("slow")), port=chosen, header_timeout_s=0.5,
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
        s.settimeout(20)
        assert s.recv(4096).startswith(b"HTTP/1.1 200")
        s.sendall(b"GET /healthz HTTP/1.1\r\nHo")  # the next request, cut short
        assert _closed_by_server(s)
