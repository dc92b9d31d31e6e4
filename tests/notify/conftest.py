"""Notification fixtures: a real HTTP receiver and a real SMTP server (aiosmtpd). The alert and
report tests use them too (their conftests import them from here)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any
    raw: bytes = b""


@dataclass
class Receiver:
    """A real HTTP server that records JSON posts; `fail_next` answers 503 that many times."""

    url: str
    items: list[Received] = field(default_factory=list)
    fail_next: int = 0
    status: int = 200
    cond: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, n: int, timeout: float = 15.0) -> list[Received]:
        with self.cond:
            self.cond.wait_for(lambda: len(self.items) >= n, timeout=timeout)
            return list(self.items)

    def clear(self) -> None:
        with self.cond:
            self.items.clear()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            r = box["r"]
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            with r.cond:
                if r.fail_next > 0:
                    r.fail_next -= 1
                    code = 503
                else:
                    code = r.status
                    r.items.append(Received(self.path, dict(self.headers), json.loads(raw), raw))
                    r.cond.notify_all()
            self.send_response(code)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box["r"] = Receiver(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield box["r"]
    server.shutdown()
    server.server_close()


@dataclass
class Mailbox:
    port: int
    messages: list[Message] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, n: int, timeout: float = 15.0) -> list[Message]:
        with self.cond:
            self.cond.wait_for(lambda: len(self.messages) >= n, timeout=timeout)
            return list(self.messages)


@pytest.fixture(scope="module")
def smtp() -> Iterator[Mailbox]:
    from aiosmtpd.controller import Controller

    from tests.conftest import free_port

    box = Mailbox(free_port())

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            with box.cond:
                box.messages.append(message_from_bytes(envelope.content))
                box.cond.notify_all()
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=box.port)
    controller.start()
    yield box
    controller.stop()


__all__ = ["Mailbox", "Received", "Receiver", "receiver", "smtp"]
