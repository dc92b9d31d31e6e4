"""Stream proxies: the caller iterates the provider's own items, unchanged; we watch them go by.

A proxy records the call when the stream ends, fails, is closed, leaves its `with` block or is
garbage collected, whichever comes first. Everything else is delegated to the wrapped stream.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

from promptpulse.sdk.track import Call

log = logging.getLogger("promptpulse.sdk")

OnItem = Callable[[Call, Any], bool]  # returns False to hide an item the wrapper added


def _watch(on_item: OnItem, call: Call, item: Any) -> bool:
    try:
        return on_item(call, item)
    except Exception:
        log.debug("PromptPulse could not read a stream item", exc_info=True)
        return True


class _StreamProxy:
    """A stream handed back to the caller unchanged, item by item, while the call is timed;
    anything else is the wrapped stream's own attribute."""

    def __init__(self, stream: Any, call: Call, on_item: OnItem) -> None:
        self._pp_stream = stream
        self._pp_call = call
        self._pp_on_item = on_item
        self._pp_iter: Any = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pp_stream, name)

    def __del__(self) -> None:
        call = self.__dict__.get("_pp_call")
        if call is not None:
            call.finish()


class SyncStreamProxy(_StreamProxy):
    def __iter__(self) -> SyncStreamProxy:
        return self

    def __next__(self) -> Any:
        if self._pp_iter is None:
            self._pp_iter = iter(self._pp_stream)
        while True:
            try:
                item = next(self._pp_iter)
            except StopIteration:
                self._pp_call.finish()
                raise
            except BaseException as exc:
                self._pp_call.fail(exc)
                raise
            if _watch(self._pp_on_item, self._pp_call, item):
                return item

    def __enter__(self) -> SyncStreamProxy:
        enter = getattr(self._pp_stream, "__enter__", None)
        if enter is not None:
            enter()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        self._pp_call.finish()
        leave = getattr(self._pp_stream, "__exit__", None)
        return leave(exc_type, exc, tb) if leave is not None else None

    def close(self) -> None:
        self._pp_call.finish()
        self._pp_stream.close()


class AsyncStreamProxy(_StreamProxy):
    def __aiter__(self) -> AsyncStreamProxy:
        return self

    async def __anext__(self) -> Any:
        if self._pp_iter is None:
            self._pp_iter = self._pp_stream.__aiter__()
        while True:
            try:
                item = await self._pp_iter.__anext__()
            except StopAsyncIteration:
                self._pp_call.finish()
                raise
            except BaseException as exc:
                self._pp_call.fail(exc)
                raise
            if _watch(self._pp_on_item, self._pp_call, item):
                return item

    async def __aenter__(self) -> AsyncStreamProxy:
        enter = getattr(self._pp_stream, "__aenter__", None)
        if enter is not None:
            await enter()
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        self._pp_call.finish()
        leave = getattr(self._pp_stream, "__aexit__", None)
        return await leave(exc_type, exc, tb) if leave is not None else None

    async def close(self) -> None:
        self._pp_call.finish()
        result = self._pp_stream.close()
        if inspect.isawaitable(result):
            await result
