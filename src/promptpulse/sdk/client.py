"""`Client` and `AsyncClient`: record calls and scores without ever blocking or failing the caller.

    from promptpulse.sdk import Client
    pp = Client()       # reads PROMPTPULSE_URL (default http://127.0.0.1:8000), PROMPTPULSE_API_KEY
    with pp.track(prompt_id="support", prompt_version="v3", model="gpt-4o-mini") as call:
        answer = my_llm_call()
        call.set(input_tokens=120, output_tokens=40)
    pp.score(call.id, "thumbs_up", 1)
    pp.flush()                          # also done at exit

Recording puts a dict on a bounded queue (microseconds); one daemon thread sends batches.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from datetime import UTC, datetime
from typing import Any

from promptpulse.sdk.assign import Variants
from promptpulse.sdk.assign import assign as assign_variant
from promptpulse.sdk.budget import BudgetGate
from promptpulse.sdk.sender import EXPOSURES, DropCallback, Sender, Stats
from promptpulse.sdk.track import Call, Track, new_id

log = logging.getLogger("promptpulse.sdk")

DEFAULT_URL = "http://127.0.0.1:8000"
USER_AGENT = "promptpulse-python/0.1"


def _iso(t: datetime | str | None) -> str:
    if t is None:
        t = datetime.now(UTC)
    if isinstance(t, str):
        return t
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.isoformat()


class Client:
    """Records LLM calls and scores to a PromptPulse server in the background.

    Never raises into the caller and never blocks it: with no API key it logs one warning and
    records nothing; when the queue (`max_queue` items) is full, new items are dropped and
    counted (`stats.dropped`, with a warning log). Items the server refuses (a 4xx, or rejected
    in a 207) are never re-sent: they are counted (`stats.rejected`/`stats.failed`), logged, and
    handed to `on_drop(kind, items, reason)` if given. `defaults` (e.g. `environment="prod"`) go
    on every call.
    """

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        batch_size: int = 100,
        flush_interval: float = 1.0,
        max_queue: int = 10_000,
        timeout: float = 10.0,
        backoff_base: float = 0.5,
        max_backoff: float = 30.0,
        shutdown_timeout: float = 5.0,
        enabled: bool = True,
        on_drop: DropCallback | None = None,
        budget_ttl: float = 5.0,
        budget_timeout: float = 0.25,
        **defaults: Any,
    ) -> None:
        self.url = (url or os.environ.get("PROMPTPULSE_URL") or DEFAULT_URL).rstrip("/")
        key = api_key or os.environ.get("PROMPTPULSE_API_KEY")
        self._budgets = BudgetGate(self.url, key if enabled else None, budget_ttl, budget_timeout)
        self.defaults = {k: v for k, v in defaults.items() if v is not None}
        self.shutdown_timeout = shutdown_timeout
        self._sender: Sender | None = None
        self._closed = False
        if not enabled:
            return
        if not key:
            log.warning("PromptPulse: no API key (PROMPTPULSE_API_KEY); calls are not recorded")
            return
        try:
            self._sender = Sender(
                self.url,
                key,
                batch_size=batch_size,
                flush_interval=flush_interval,
                max_queue=max_queue,
                timeout=timeout,
                backoff_base=backoff_base,
                max_backoff=max_backoff,
                user_agent=USER_AGENT,
                on_drop=on_drop,
            )
        except ValueError as exc:
            log.warning("PromptPulse disabled: %s", exc)
            return
        _register_atexit(self)

    # -- recording -------------------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        return self._sender is not None and not self._closed

    def _put_event(self, event: dict[str, Any]) -> None:
        """The sink every Call finishes into."""
        if self._sender is None:
            return
        for name, value in self.defaults.items():
            event.setdefault(name, value)
        self._sender.put("events", event)

    def record(self, **fields: Any) -> str:
        """Record a finished call (any call-record fields; `model` and `latency_ms` at least).
        Returns its id; missing `id` and `timestamp` are filled in."""
        try:
            event = {k: v for k, v in fields.items() if v is not None}
            event["id"] = event.get("id") or new_id()
            event["timestamp"] = _iso(event.get("timestamp"))
            self._put_event(event)
            return str(event["id"])
        except Exception:
            log.exception("PromptPulse could not record a call")
            return str(fields.get("id") or "")

    def budget_ok(
        self,
        *,
        mode: str = "spent",
        fail_closed: bool = False,
        timeout: float | None = None,
        **attributes: Any,
    ) -> bool:
        """Whether a call with these attributes (prompt_id, user_id, model, tags, metadata...;
        the client's defaults too) may go ahead: no budget they fall in is spent (`mode=
        "projected"`: nor projected to overrun). Cached for `budget_ttl` s; waits at most
        `timeout` (default `budget_timeout`) s; when the server cannot say, True (fail open)
        unless `fail_closed=True`. Never raises."""
        try:
            return self._budgets.ok({**self.defaults, **attributes}, mode, fail_closed, timeout)
        except Exception:
            log.exception("PromptPulse budget check failed")
            return not fail_closed

    def start(self, **fields: Any) -> Call:
        """Start timing a call by hand; call `.finish()` or `.fail(exc)` on the result."""
        return Call(self._put_event, fields)

    def track(self, **fields: Any) -> Track:
        """Time a block or function: `with pp.track(prompt_id=...) as call:` / `@pp.track(...)`."""
        return Track(lambda: self._put_event, fields)

    def assign(
        self, experiment: str, unit_id: str, variants: Variants, *, record: bool = True
    ) -> str:
        """The unit's variant of an experiment: deterministic and sticky (the same unit always
        gets the same variant, in every process and in the JS client), computed locally with no
        network call. The exposure is recorded in the background (needs an ingest key) so the
        results can check the split. `variants`: names (equal split) or {name: weight}."""
        chosen = assign_variant(experiment, str(unit_id), variants)
        if record and self._sender is not None:
            try:
                exposure = {"unit_id": str(unit_id), "variant": chosen, "timestamp": _iso(None)}
                self._sender.put(EXPOSURES + experiment, exposure)
            except Exception:
                log.exception("PromptPulse could not record an exposure")
        return chosen

    def score(
        self,
        event_id: str,
        name: str,
        value: float | bool,
        *,
        comment: str | None = None,
        source: str | None = None,
        id: str | None = None,
        timestamp: datetime | str | None = None,
    ) -> str:
        """Attach feedback or an evaluation to a call (thumbs up/down: 1/0); returns its id."""
        score_id = id or new_id()
        try:
            item: dict[str, Any] = {
                "id": score_id,
                "event_id": event_id,
                "name": name,
                "value": float(value),
                "timestamp": _iso(timestamp),
            }
            if comment is not None:
                item["comment"] = comment
            if source is not None:
                item["source"] = source
            if "project" in self.defaults:
                item["project"] = self.defaults["project"]
            if self._sender is not None:
                self._sender.put("scores", item)
        except Exception:
            log.exception("PromptPulse could not record a score")
        return score_id

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def stats(self) -> Stats:
        return self._sender.stats if self._sender is not None else Stats()

    @property
    def dropped(self) -> int:
        return self.stats.dropped

    def flush(self, timeout: float | None = None) -> bool:
        """Send what is queued and wait (at most `timeout` s). True when everything was handled."""
        if self._sender is None:
            return True
        try:
            return self._sender.flush(timeout)
        except Exception:
            log.exception("PromptPulse flush failed")
            return False

    def close(self, timeout: float | None = None) -> None:
        """Flush (at most `timeout`, default `shutdown_timeout`) and stop the sender thread."""
        if self._sender is None or self._closed:
            return
        self._closed = True
        try:
            self._sender.close(self.shutdown_timeout if timeout is None else timeout)
        except Exception:
            log.exception("PromptPulse close failed")

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient:
    """The same client for asyncio apps: recording never awaits (a queue put); `flush` and
    `aclose` wait in a worker thread so the event loop keeps running."""

    def __init__(self, url: str | None = None, api_key: str | None = None, **options: Any) -> None:
        self.sync = Client(url, api_key, **options)

    def record(self, **fields: Any) -> str:
        return self.sync.record(**fields)

    def start(self, **fields: Any) -> Call:
        return self.sync.start(**fields)

    async def budget_ok(self, **options: Any) -> bool:
        """`Client.budget_ok` in a worker thread (a cache miss waits on the network)."""
        import asyncio

        return await asyncio.to_thread(lambda: self.sync.budget_ok(**options))

    def track(self, **fields: Any) -> Track:
        return self.sync.track(**fields)

    def assign(
        self, experiment: str, unit_id: str, variants: Variants, *, record: bool = True
    ) -> str:
        return self.sync.assign(experiment, unit_id, variants, record=record)

    def score(self, event_id: str, name: str, value: float | bool, **options: Any) -> str:
        return self.sync.score(event_id, name, value, **options)

    @property
    def stats(self) -> Stats:
        return self.sync.stats

    async def flush(self, timeout: float | None = None) -> bool:
        import asyncio

        return await asyncio.to_thread(self.sync.flush, timeout)

    async def aclose(self, timeout: float | None = None) -> None:
        import asyncio

        await asyncio.to_thread(self.sync.close, timeout)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


# -- exit and the default client ---------------------------------------------------------------
_live: weakref.WeakSet[Client] = weakref.WeakSet()
_atexit_lock = threading.Lock()
_atexit_registered = False


def _register_atexit(client: Client) -> None:
    global _atexit_registered
    with _atexit_lock:
        _live.add(client)
        if not _atexit_registered:
            atexit.register(_close_all)
            _atexit_registered = True


def _close_all() -> None:
    for client in list(_live):
        client.close()


_default: Client | None = None
_default_lock = threading.Lock()


def init(url: str | None = None, api_key: str | None = None, **options: Any) -> Client:
    """Configure the process-wide client used by `track`, `score` and the wrappers."""
    global _default
    with _default_lock:
        old, _default = _default, Client(url, api_key, **options)
    if old is not None:
        old.close()
    return _default


def get_client() -> Client:
    """The process-wide client, made from the environment on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Client()
        return _default


def resolve(client: Client | AsyncClient | None) -> Client:
    if client is None:
        return get_client()
    return client.sync if isinstance(client, AsyncClient) else client
