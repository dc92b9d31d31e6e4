"""The background sender: a bounded queue drained by one daemon thread into `POST /v1/events`.

Standard library only. The caller's side (`put`) never blocks and never raises: when the queue is
full the item is dropped, counted, and a warning is logged. The thread sends batches, retries with
exponential backoff and full jitter (honouring `Retry-After` on 429/503), splits a batch the server
calls too large (413), and gives up only on answers a retry cannot fix (400/401/403/422) or when
`close()` runs out of time. A batch that keeps failing with a server error (500) is split, so
that one item the server cannot take never holds back the others. Items the server rejects in
a 207 are never re-sent. Every item given up on is counted, logged, and handed to `on_drop`.
Items carry client-made ids, so a retry after a lost answer is stored once (the server counts
it as a duplicate).
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import json
import logging
import os
import random
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger("promptpulse.sdk")

PATHS = {"events": "/v1/events", "scores": "/v1/scores"}
EXPOSURES = "exposures:"  # kind prefix: exposures of one experiment, `exposures:<experiment key>`


def route(kind: str) -> tuple[str, str]:
    """(path, body key) for a kind of queued item."""
    if kind.startswith(EXPOSURES):
        key = urllib.parse.quote(kind[len(EXPOSURES) :], safe="")
        return f"/v1/experiments/{key}/exposures", "exposures"
    return PATHS[kind], kind


RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})
GZIP_MIN_BYTES = 1024
MAX_RETRY_AFTER_S = 300.0
DROP_WARNING_EVERY_S = 10.0
SPLIT_AFTER_SERVER_ERRORS = 3  # 500s in a row: split the batch (one item in it may be the cause)

# on_drop(kind, items, reason): items the server will never store ("events" or "scores").
DropCallback = Callable[[str, list[dict[str, Any]], str], None]


@dataclass
class Stats:
    """Counters since the client started (items are events or scores)."""

    queued: int = 0  # put into the queue
    accepted: int = 0  # newly stored by the server
    duplicates: int = 0  # already stored (a retry whose first answer was lost)
    rejected: int = 0  # refused by the server as invalid (logged)
    dropped: int = 0  # never queued: the queue was full
    failed: int = 0  # given up on after the server refused the batch or close() timed out
    retries: int = 0  # requests repeated after an error
    batches: int = 0  # requests that succeeded


@dataclass
class _Outcome:
    ok: bool
    status: int | None = None
    body: dict[str, Any] = field(default_factory=dict)
    retry_after: float | None = None
    error: str = ""


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def backoff(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
    return random.uniform(0, min(cap, base * (2 ** min(attempt, 30))))


class Sender:
    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        batch_size: int,
        flush_interval: float,
        max_queue: int,
        timeout: float,
        backoff_base: float,
        max_backoff: float,
        user_agent: str,
        on_drop: DropCallback | None = None,
    ) -> None:
        self.on_drop = on_drop
        parts = urlsplit(url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"PromptPulse URL must be http(s)://host[:port], got {url!r}")
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._headers = {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            "User-Agent": user_agent,
        }
        self.batch_size = max(1, int(batch_size))
        self.flush_interval = max(0.0, float(flush_interval))
        self.max_queue = max(1, int(max_queue))
        self.timeout = timeout
        self.backoff_base = backoff_base
        self.max_backoff = max_backoff
        self.stats = Stats()
        self._queue: deque[tuple[str, dict[str, Any]]] = deque()
        self._cond = threading.Condition()
        self._pending = 0  # queued or in flight
        self._flush_now = False
        self._closing = False
        self._give_up_at: float | None = None
        self._wake = threading.Event()  # interrupts a backoff sleep on close
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._conn: http.client.HTTPConnection | None = None
        self._last_drop_warning = 0.0

    # -- the caller's side -------------------------------------------------------------------
    def put(self, kind: str, item: dict[str, Any]) -> bool:
        with self._cond:
            if self._closing:
                self._count_drop()
                return False
            if len(self._queue) >= self.max_queue:
                self._count_drop()
                return False
            self._queue.append((kind, item))
            self._pending += 1
            self.stats.queued += 1
            self._ensure_thread()
            if len(self._queue) == 1 or len(self._queue) >= self.batch_size:
                self._cond.notify_all()
        return True

    def flush(self, timeout: float | None = None) -> bool:
        """Send what is queued now; wait until it is sent or given up. True if nothing is left."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            if self._pending == 0:
                return True
            self._ensure_thread()
            self._flush_now = True
            self._cond.notify_all()
            while self._pending > 0:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def close(self, timeout: float | None) -> None:
        """Flush for at most `timeout` seconds, then stop; what is still unsent counts as failed."""
        with self._cond:
            if self._closing:
                return
            self._closing = True
            self._give_up_at = None if timeout is None else time.monotonic() + timeout
            self._flush_now = True
            self._cond.notify_all()
            thread = self._thread
        self._wake.set()
        if thread is not None and thread.is_alive():
            thread.join(None if timeout is None else timeout + 1)
        with self._cond:
            left = len(self._queue)
            if left:
                self.stats.failed += left
                self._pending -= left
                self._queue.clear()
                self._cond.notify_all()
        if self.stats.dropped or self.stats.failed:
            log.warning(
                "PromptPulse client closed: %d items dropped (queue full), %d not delivered",
                self.stats.dropped,
                self.stats.failed,
            )
        self._close_conn()

    @property
    def pending(self) -> int:
        return self._pending

    def _count_drop(self) -> None:
        self.stats.dropped += 1
        now = time.monotonic()
        if self.stats.dropped == 1 or now - self._last_drop_warning >= DROP_WARNING_EVERY_S:
            self._last_drop_warning = now
            log.warning(
                "PromptPulse queue is full (%d items): %d dropped so far; is the server reachable?",
                self.max_queue,
                self.stats.dropped,
            )

    def _ensure_thread(self) -> None:
        # Called under the lock. After a fork the child has the queue but not the thread.
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._thread = None
            self._conn = None
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._run, name="promptpulse-sender", daemon=True
            )
            self._thread.start()

    # -- the sender thread -------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return  # closing, and nothing left
                deadline = time.monotonic() + self.flush_interval
                while (
                    len(self._queue) < self.batch_size and not self._flush_now and not self._closing
                ):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                count = min(self.batch_size, len(self._queue))
                batch = [self._queue.popleft() for _ in range(count)]
                if not self._queue:
                    self._flush_now = False
            try:
                self._deliver(batch)
            except Exception:  # never let the thread die
                log.exception("PromptPulse sender failed on a batch of %d", len(batch))
                self.stats.failed += len(batch)
            finally:
                with self._cond:
                    self._pending -= len(batch)
                    self._cond.notify_all()

    def _deliver(self, batch: list[tuple[str, dict[str, Any]]]) -> None:
        by_kind: dict[str, list[dict[str, Any]]] = {}
        for kind, item in batch:
            by_kind.setdefault(kind, []).append(item)
        for kind, items in by_kind.items():
            self._send_items(kind, items)

    def _send_items(self, kind: str, items: list[dict[str, Any]]) -> None:
        path, body_key = route(kind)
        body = json.dumps({body_key: items}, default=str, separators=(",", ":")).encode()
        attempt = server_errors = 0
        while True:
            outcome = self._post(path, body)
            if outcome.ok:
                self._record_success(kind, items, outcome)
                return
            server_errors = server_errors + 1 if outcome.status == 500 else 0
            if (outcome.status == 413 or server_errors >= SPLIT_AFTER_SERVER_ERRORS) and len(
                items
            ) > 1:
                half = len(items) // 2
                self._send_items(kind, items[:half])
                self._send_items(kind, items[half:])
                return
            retryable = outcome.status is None or outcome.status in RETRYABLE
            if not retryable or server_errors >= SPLIT_AFTER_SERVER_ERRORS:
                self.stats.failed += len(items)
                self.stats.rejected += len(outcome.body.get("rejected") or [])
                log.error(
                    "PromptPulse refused %d %s (HTTP %s): %s; not retrying",
                    len(items), kind, outcome.status, outcome.error,
                )  # fmt: skip
                self._dropped(kind, items, f"HTTP {outcome.status}: {outcome.error}")
                return
            delay = outcome.retry_after
            if delay is None:
                delay = backoff(attempt, self.backoff_base, self.max_backoff)
            delay = min(delay, MAX_RETRY_AFTER_S)
            if self._give_up_at is not None and time.monotonic() + delay > self._give_up_at:
                self.stats.failed += len(items)
                log.warning(
                    "PromptPulse: gave up on %d %s at close (%s)", len(items), kind, outcome.error
                )
                self._dropped(kind, items, f"not delivered before close: {outcome.error}")
                return
            attempt += 1
            self.stats.retries += 1
            if attempt in (1, 5) or attempt % 20 == 0:
                log.warning(
                    "PromptPulse send failed (%s); retry %d in %.2fs", outcome.error, attempt, delay
                )
            if self._wake.wait(delay):  # close() woke us: one more try now, then give up in time
                self._wake.clear()

    def _record_success(self, kind: str, items: list[dict[str, Any]], outcome: _Outcome) -> None:
        self.stats.batches += 1
        self.stats.accepted += int(outcome.body.get("accepted") or 0)
        self.stats.duplicates += int(outcome.body.get("duplicates") or 0)
        rejected = outcome.body.get("rejected") or []
        if rejected:
            self.stats.rejected += len(rejected)
            first = rejected[0]
            log.warning(
                "PromptPulse rejected %d of %d %s; first: id=%s %s",
                len(rejected), len(items), kind, first.get("id"), first.get("errors"),
            )  # fmt: skip
            indexes = {r.get("index") for r in rejected if isinstance(r, dict)}
            refused = [item for i, item in enumerate(items) if i in indexes]
            self._dropped(kind, refused, f"rejected: first {first.get('errors')}")

    def _dropped(self, kind: str, items: list[dict[str, Any]], reason: str) -> None:
        """Tell the application (its own callback never breaks the sender)."""
        if self.on_drop is None or not items:
            return
        try:
            self.on_drop(kind, items, reason)
        except Exception:
            log.exception("PromptPulse on_drop callback failed")

    # -- HTTP ----------------------------------------------------------------------------------
    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = (
                http.client.HTTPSConnection
                if self._scheme == "https"
                else http.client.HTTPConnection
            )
            self._conn = cls(self._host, self._port, timeout=self.timeout)
        return self._conn

    def _close_conn(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def _post(self, path: str, body: bytes) -> _Outcome:
        headers = dict(self._headers)
        if len(body) >= GZIP_MIN_BYTES:
            body = gzip.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        headers["Content-Length"] = str(len(body))
        try:
            conn = self._connection()
            conn.request("POST", self._prefix + path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            status = resp.status
            retry_after = parse_retry_after(resp.getheader("Retry-After"))
            if resp.getheader("Connection", "").lower() == "close":
                self._close_conn()
        except (OSError, http.client.HTTPException) as exc:
            self._close_conn()
            return _Outcome(ok=False, error=f"{type(exc).__name__}: {exc}")
        try:
            parsed = json.loads(data) if data else {}
        except ValueError:
            parsed = {}
        if not isinstance(parsed, dict):
            parsed = {}
        if 200 <= status < 300:
            return _Outcome(ok=True, status=status, body=parsed)
        detail = (
            parsed.get("detail") or parsed.get("title") or data[:200].decode("utf-8", "replace")
        )
        return _Outcome(
            False, status, parsed, retry_after if status in (429, 503) else None, str(detail)
        )
