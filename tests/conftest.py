"""Shared fixtures: the real app over a real DuckDB file, in-process (`app`: routes exercised
through Starlette's TestClient, no socket) or as a real server on 127.0.0.1 (`live`: for SDKs,
subprocesses, browsers and anything that needs a socket), and keys for either."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from promptpulse.app import create_app
from promptpulse.config import Settings
from promptpulse.meta import MetaDB, Scope, create_key
from promptpulse.store import open_store
from tests.harness.pg import PostgresServer, metadata_url_for_tests, shared_server

# Test receivers (webhook, Slack, PagerDuty, report channels) listen on loopback, which the
# server refuses by default (SSRF guard): every test server allows it explicitly.
LOCAL_RECEIVERS = "127.0.0.1"


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
    data_dir: Path,
    clock: Callable[[], datetime] | None = None,
    *,
    wrap: Callable[[Any], Any] | None = None,
    **overrides: object,
) -> tuple[uvicorn.Server, threading.Thread, LiveServer]:
    """`wrap`, if given, is put in front of the app, e.g. an ASGI callable that records the
    requests the server saw."""
    port = free_port()
    overrides.setdefault("allowed_hosts", LOCAL_RECEIVERS)
    overrides.setdefault("retention_interval_s", 0)  # see in_process_app
    if "metadata_url" not in overrides:
        overrides["metadata_url"] = metadata_url_for_tests(data_dir)
    settings = Settings(data_dir=data_dir, port=port, **overrides)  # type: ignore[arg-type]
    app = create_app(settings, clock=clock) if clock else create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(
            wrap(app) if wrap else app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    meta = MetaDB(settings.metadata_db_url, settings.secret_keys)
    _test_side_meta[id(server)] = meta
    return server, thread, LiveServer(f"http://127.0.0.1:{port}", settings, meta, app)


# The test's own handle on each started server's metadata, closed with the server (PostgreSQL
# warns about connections left open).
_test_side_meta: dict[int, MetaDB] = {}


def stop_server(server: uvicorn.Server, thread: threading.Thread) -> None:
    server.should_exit = True
    thread.join(timeout=30)
    meta = _test_side_meta.pop(id(server), None)
    if meta is not None:
        meta.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server per test module; tests isolate themselves by project."""
    server, thread, info = start_server(tmp_path_factory.mktemp("data"))
    yield info
    stop_server(server, thread)


class _SharedLoopClient(TestClient):
    def __enter__(self) -> _SharedLoopClient:
        return self

    def __exit__(self, *args: object) -> None:
        return None


@dataclass
class InProcessApp:
    """The app in this process around a store the test opened: the same interface as
    LiveServer, where `client()` talks to the app without a socket."""

    settings: Settings
    meta: MetaDB
    app: object
    test_client: TestClient

    def key(self, project: str | None, scopes: str = "ingest,read") -> str:
        chosen = frozenset(Scope(s) for s in scopes.split(","))
        return create_key(self.meta, project, chosen)[1]

    def client(self, key: str | None) -> TestClient:
        """A client with its own headers on the running app's event loop (its portal); using it
        in a `with` leaves the app running (entering a second TestClient would run the lifespan
        again)."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        client = _SharedLoopClient(self.app, headers=headers)  # type: ignore[arg-type]
        client.portal = self.test_client.portal
        return client

    @property
    def ctx(self):  # type: ignore[no-untyped-def]
        return self.app.state.ctx  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessApp]:
    """One app per test module, in-process, over a store and metadata database it is handed;
    tests isolate themselves by project."""
    yield from in_process_app(tmp_path_factory.mktemp("data"))


def in_process_app(data_dir: Path, **settings_: Any) -> Iterator[InProcessApp]:
    """The body of `app`, with settings of a module's own (e.g. a background loop turned off
    with `alerts_interval_s=0`, so that only the test runs its rounds):
    `yield from in_process_app(tmp_path_factory.mktemp("data"), alerts_interval_s=0)`."""
    settings_.setdefault("allowed_hosts", LOCAL_RECEIVERS)
    # Tests ingest calls at fixed dates, many older than the default raw retention (90 days):
    # the retention job's first pass at start-up raced with their ingest and deleted them now
    # and then. Retention tests apply it on demand or ask for the daemon.
    settings_.setdefault("retention_interval_s", 0)
    settings_.setdefault("metadata_url", metadata_url_for_tests(data_dir))
    settings = Settings(data_dir=data_dir, **settings_)
    store = open_store(settings)
    meta = MetaDB(settings.metadata_db_url, settings.secret_keys)
    application = create_app(settings, store=store, meta=meta)
    with TestClient(application) as running:  # runs the lifespan: writer, services, tasks
        yield InProcessApp(settings, meta, application, running)
    meta.close()
    store.close()


@pytest.fixture
def project() -> str:
    return f"p-{uuid.uuid4().hex[:10]}"


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


# ---------------------------------------------------------------- a real PostgreSQL (metadata)


@pytest.fixture(scope="session")
def postgres() -> PostgresServer:
    """One PostgreSQL cluster per test session (per xdist worker): tests/harness/pg.py."""
    return shared_server()


@pytest.fixture
def pg_url(postgres: PostgresServer) -> str:
    """A fresh, empty PostgreSQL database for this test: its SQLAlchemy URL."""
    return postgres.create_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def metadata_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh metadata database on each engine PromptPulse supports."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'meta' / 'metadata.sqlite'}"
    return str(request.getfixturevalue("postgres").create_database())
