"""One call being recorded (`Call`), and `track`, its context manager and decorator form."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from promptpulse.sdk.errors import classify, message
from promptpulse.sdk.usage import from_response

log = logging.getLogger("promptpulse.sdk")

Sink = Callable[[dict[str, Any]], None]
F = TypeVar("F", bound=Callable[..., Any])

_last_event_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "promptpulse_last_event_id", default=None
)


def last_event_id() -> str | None:
    """The id of the call most recently started in this thread or task (to attach a score)."""
    return _last_event_id.get()


def new_id() -> str:
    return uuid.uuid4().hex


class Call:
    """A call in progress: set fields on it; `finish()` (or `fail(exc)`) sends it, once."""

    __slots__ = ("_done", "_sink", "_t0", "_ttft", "_wall", "fields", "id")

    def __init__(self, sink: Sink, fields: dict[str, Any]) -> None:
        self._sink = sink
        self.fields = fields
        self.id: str = fields.pop("id", None) or new_id()
        self._wall = time.time()
        self._t0 = time.perf_counter()
        self._ttft: float | None = None
        self._done = False
        _last_event_id.set(self.id)

    def set(self, **fields: Any) -> None:
        """Set any call-record field: tokens, model, user_id, metadata, cost_usd..."""
        self.fields.update(fields)

    def first_token(self) -> None:
        """Mark the first token now (TTFT); later calls do nothing."""
        if self._ttft is None:
            self._ttft = (time.perf_counter() - self._t0) * 1000

    def observe(self, response: Any) -> None:
        """Read model and tokens from an OpenAI or Anthropic response object."""
        found = from_response(response)
        if found.pop("_content_filter", False):
            self.fields.update(status="error", error_type="content_filter")
        self.fields.update(found)

    def error(
        self, error_type: str = "other", error_message: str | None = None, **more: Any
    ) -> None:
        """Mark the call failed without an exception (e.g. a refusal you detected)."""
        self.fields.update(status="error", error_type=error_type, **more)
        if error_message is not None:
            self.fields["error_message"] = error_message

    def fail(self, exc: BaseException) -> None:
        try:
            error_type, status = classify(exc)
            self.fields.update(status="error", error_type=error_type, error_message=message(exc))
            if status is not None:
                self.fields["http_status"] = status
        except Exception:
            log.exception("PromptPulse could not classify %r", exc)
        self.finish()

    def finish(self) -> None:
        if self._done:
            return
        self._done = True
        try:
            latency = (time.perf_counter() - self._t0) * 1000
            event = {k: v for k, v in self.fields.items() if v is not None}
            event["id"] = self.id
            event.setdefault(
                "timestamp",
                datetime.fromtimestamp(self._wall, UTC).isoformat().replace("+00:00", "Z"),
            )
            event.setdefault("latency_ms", latency)
            if self._ttft is not None:
                event.setdefault("ttft_ms", min(self._ttft, event["latency_ms"]))
            if not event.get("model"):  # nothing asked for by name: the served one
                event["model"] = event.get("response_model") or "unknown"
            # The server rejects cached > input and reasoning > output; keep the record instead.
            for part, whole in (
                ("cached_tokens", "input_tokens"),
                ("reasoning_tokens", "output_tokens"),
            ):
                if part in event and event[part] > event.get(whole, 0):
                    event[part] = event.get(whole, 0)
            room = event.get("input_tokens", 0) - event.get("cached_tokens", 0)
            if event.get("cache_write_tokens", 0) > room:
                event["cache_write_tokens"] = room
            self._sink(event)
        except Exception:
            log.exception("PromptPulse could not record a call")


class Track:
    """`with track(...) as call:`, `async with track(...) as call:` or `@track(...)`."""

    def __init__(self, sink: Callable[[], Sink], fields: dict[str, Any]) -> None:
        self._sink = sink
        self._fields = fields
        self._calls: list[Call] = []  # a stack: the same Track may be entered re-entrantly

    def _start(self) -> Call:
        call = Call(self._sink(), dict(self._fields))
        self._calls.append(call)
        return call

    def _end(self, exc: BaseException | None) -> None:
        call = self._calls.pop()
        if exc is not None:
            call.fail(exc)
        else:
            call.finish()

    def __enter__(self) -> Call:
        return self._start()

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        self._end(exc)

    async def __aenter__(self) -> Call:
        return self._start()

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        self._end(exc)

    def __call__(self, fn: F) -> F:
        """As a decorator: one call record per invocation; a returned OpenAI/Anthropic response
        fills model and tokens."""
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                call = Call(self._sink(), dict(self._fields))
                try:
                    result = await fn(*args, **kwargs)
                except BaseException as exc:
                    call.fail(exc)
                    raise
                _observe_quietly(call, result)
                call.finish()
                return result

            return run_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            call = Call(self._sink(), dict(self._fields))
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                call.fail(exc)
                raise
            _observe_quietly(call, result)
            call.finish()
            return result

        return run  # type: ignore[return-value]


def _observe_quietly(call: Call, result: Any) -> None:
    with contextlib.suppress(Exception):
        call.observe(result)
