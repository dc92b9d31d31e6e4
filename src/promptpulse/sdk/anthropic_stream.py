"""Anthropic's `messages.stream()` helper, recorded: the call starts when its `with` block sends
the request and is recorded when the stream ends, fails or the block is left.

Every way of reading the helper's stream (iterating it, `text_stream`, `until_done()`,
`get_final_message()`) goes through its `_iterator`, which is watched for the first content delta
(TTFT) and failures; tokens and the served model come from its message snapshot at the end.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from promptpulse.sdk.track import Call

log = logging.getLogger("promptpulse.sdk")

_FIRST_CONTENT = ("content_block_delta", "text", "thinking", "input_json")


def _mark(call: Call, event: Any) -> None:
    if getattr(event, "type", None) in _FIRST_CONTENT:
        call.first_token()


def _settle(call: Call, stream: Any) -> None:
    try:
        call.observe(stream.current_message_snapshot)
    except Exception:  # no message_start yet: nothing to read
        log.debug("PromptPulse could not read the stream's message", exc_info=True)
    call.finish()


def _watch_sync(call: Call, stream: Any) -> None:
    original: Iterator[Any] = stream._iterator

    def watched() -> Iterator[Any]:
        try:
            for event in original:
                _mark(call, event)
                yield event
        except BaseException as exc:
            call.fail(exc)
            raise
        _settle(call, stream)

    stream._iterator = watched()


def _watch_async(call: Call, stream: Any) -> None:
    original: AsyncIterator[Any] = stream._iterator

    async def watched() -> AsyncIterator[Any]:
        try:
            async for event in original:
                _mark(call, event)
                yield event
        except BaseException as exc:
            call.fail(exc)
            raise
        _settle(call, stream)

    stream._iterator = watched()


class StreamManagerProxy:
    """What the wrapped `messages.stream(...)` returns: the SDK's manager, with the call timed
    from entering it. Anything else is the manager's own attribute."""

    def __init__(self, manager: Any, start: Callable[[], Call | None]) -> None:
        self._pp_manager = manager
        self._pp_start = start
        self._pp_call: Call | None = None
        self._pp_stream: Any = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pp_manager, name)

    def __enter__(self) -> Any:
        call = self._pp_start()
        try:
            stream = self._pp_manager.__enter__()
        except BaseException as exc:
            if call is not None:
                call.fail(exc)
            raise
        if call is not None:
            self._pp_call, self._pp_stream = call, stream
            _watch_sync(call, stream)
        return stream

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return self._pp_manager.__exit__(exc_type, exc, tb)
        finally:
            if self._pp_call is not None:
                _settle(self._pp_call, self._pp_stream)

    async def __aenter__(self) -> Any:
        call = self._pp_start()
        try:
            stream = await self._pp_manager.__aenter__()
        except BaseException as exc:
            if call is not None:
                call.fail(exc)
            raise
        if call is not None:
            self._pp_call, self._pp_stream = call, stream
            _watch_async(call, stream)
        return stream

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return await self._pp_manager.__aexit__(exc_type, exc, tb)
        finally:
            if self._pp_call is not None:
                _settle(self._pp_call, self._pp_stream)
