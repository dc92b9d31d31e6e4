"""Shared fixtures: a real server on 127.0.0.1 over a real DuckDB file, and keys for it."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import uvicorn

from promptpulse.app import create_app
from promptpulse.config import Settings
from promptpulse.meta import MetaDB, Scope, create_key


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    settings: Settings
    meta: MetaDB
    app: object

    def key(self, project: str | None, scopes: str = "ingest,read") -> str:
        chosen = frozenset(Scope(s) for s in scopes.split(","))
        return create_key(self.meta, project, chosen)[1]

    def client(self, key: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    @property
    def ctx(self):  # type: ignore[no-untyped-def]
        return self.app.state.ctx  # type: ignore[attr-defined]


def start_server(
    data_dir: Path, clock: Callable[[], datetime] | None = None, **overrides: object
) -> tuple[uvicorn.Server, threading.Thread, LiveServer]:
    port = free_port()
    settings = Settings(data_dir=data_dir, port=port, **overrides)  # type: ignore[arg-type]
    app = create_app(settings, clock=clock) if clock else create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    meta = MetaDB(settings.metadata_db_url)
    return server, thread, LiveServer(f"http://127.0.0.1:{port}", settings, meta, app)


def stop_server(server: uvicorn.Server, thread: threading.Thread) -> None:
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server per test module; tests isolate themselves by project."""
    server, thread, info = start_server(tmp_path_factory.mktemp("data"))
    yield info
    stop_server(server, thread)
    info.meta.close()


@pytest.fixture
def project() -> str:
    return f"p-{uuid.uuid4().hex[:10]}"


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")
