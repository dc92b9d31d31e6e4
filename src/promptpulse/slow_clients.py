"""uvicorn's httptools protocol with a bound on a request's header block and a deadline for it.

httptools (llhttp, in C) reads request bodies several times faster than h11 (pure Python), and
ingest bodies are large: the event loop's share of the server's GIL went with it. But httptools
buffers a header of any size until it is complete, so the block is counted here as it arrives
and refused (431) once it passes `max_header_bytes`, before the rest is read.

uvicorn closes idle keep-alive connections, but a client that sends its headers slowly (or
connects and sends nothing) holds a connection for as long as it likes; a few hundred such
clients use up the server's file descriptors (slowloris). Here a connection whose request
headers are not complete within `header_timeout_s` of their first byte (or of connecting) is
closed. A reverse proxy in front should still bound slow bodies (docs/security.md)."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from promptpulse.web.header_limit import too_large


def _too_large(limit: int) -> bytes:
    """The app's own 431 problem (web/header_limit.py) as raw bytes, closing the connection."""
    response = too_large(limit)
    head = b"".join(name + b": " + value + b"\r\n" for name, value in response.raw_headers)
    status = b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    return status + head + b"connection: close\r\n\r\n" + bytes(response.body)


def guarded_httptools(header_timeout_s: float, max_header_bytes: int) -> type[HttpToolsProtocol]:
    refusal = _too_large(max_header_bytes)

    class GuardedHttpTools(HttpToolsProtocol):
        _header_timer: asyncio.TimerHandle | None = None
        _in_headers = True  # between a request's first byte and the end of its headers
        _header_bytes = 0

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            # Every byte fed while the headers are incomplete belongs to them (the first chunk
            # of a kept-alive connection's next request is not counted: a chunk's worth).
            counted = self._in_headers
            super().data_received(data)
            if counted and self._in_headers and not self.transport.is_closing():
                self._header_bytes += len(data)
                if self._header_bytes > max_header_bytes:
                    self._disarm()
                    self.transport.write(refusal)
                    self.transport.close()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_headers = True
            self._header_bytes = 0
            if self._header_timer is None:
                self._arm()  # the first bytes of the next request on a kept-alive connection

        def on_headers_complete(self) -> None:
            self._in_headers = False
            self._disarm()
            super().on_headers_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._header_timer = self.loop.call_later(header_timeout_s, self._too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _too_slow(self) -> None:
            self._header_timer = None
            if self._in_headers and not self.transport.is_closing():
                self.transport.close()

    return GuardedHttpTools
