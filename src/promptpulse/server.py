"""Run the app under uvicorn: one process, one event loop (DuckDB admits one process)."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

import uvicorn

from promptpulse.app import create_app
from promptpulse.config import Settings
from promptpulse.slow_clients import guarded_httptools
from promptpulse.tasks import DaemonTask
from promptpulse.web.context import AppContext


def uvicorn_config(app: Any, settings: Settings) -> uvicorn.Config:
    """How the server listens: httptools, with the header block bounded while it is received
    and complete within `header_timeout_s` (slow_clients.py)."""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,
        http=guarded_httptools(settings.header_timeout_s, settings.max_header_bytes),
        timeout_graceful_shutdown=10,
    )


# glibc's mallopt parameter, and the size from which an allocation gets pages of its own.
M_MMAP_THRESHOLD = -3
OWN_PAGES_FROM = 1 << 20


def return_large_buffers() -> bool:
    """Have glibc give every freed allocation of 1 MB or more back to the system at once.

    By default glibc raises that size to the largest block freed so far (up to 32 MB), and from
    then on keeps such blocks in its heaps for reuse: a query's arrays (a fetched column, a
    histogram, a sort's order) stay resident after it, and the next query's come on top. Fixed
    at 1 MB, the server's peak under the 10 M-call queries of bench.query fell from 648-662 to
    614-616 MB (517-526 to 483-489 with a 128 MB DuckDB limit; docs/performance.md). False
    where there is no glibc (musl, macOS): nothing done."""
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, OWN_PAGES_FROM))


def run(
    settings: Settings,
    extra_tasks: Sequence[Callable[[AppContext], DaemonTask]] = (),
    on_started: Callable[[], None] | None = None,
) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    os.umask(0o077)  # every file the server makes (databases, exports, reports) is private
    return_large_buffers()  # before the store's threads start: every heap takes the setting
    app = create_app(settings, extra_tasks=extra_tasks)
    server = uvicorn.Server(uvicorn_config(app, settings))
    if on_started is not None:
        original = server.startup

        async def startup(sockets=None):  # type: ignore[no-untyped-def]
            await original(sockets)
            on_started()

        server.startup = startup  # type: ignore[method-assign]
    server.run()
