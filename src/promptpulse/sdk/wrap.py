"""Instrument one method of a provider client's resource, in place (the caller keeps its object).

The wrapped method takes one extra keyword, `promptpulse={...}`, with call-record fields for that
call only (`id`, `user_id`, `prompt_version`, `metadata`...); it is removed before the real call.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any

from promptpulse.sdk.anthropic_stream import StreamManagerProxy
from promptpulse.sdk.client import AsyncClient, Client, resolve
from promptpulse.sdk.streams import AsyncStreamProxy, OnItem, SyncStreamProxy
from promptpulse.sdk.track import Call

log = logging.getLogger("promptpulse.sdk")

MARK = "__promptpulse_wrapped__"

Prepare = Callable[[dict[str, Any]], Any]  # may edit the request kwargs; returns state for on_item
MakeOnItem = Callable[[Any], OnItem]


def _start(
    pp: Client | AsyncClient | None, base: dict[str, Any], kwargs: dict[str, Any]
) -> Call | None:
    per_call = kwargs.pop("promptpulse", None)
    try:
        client = resolve(pp)
        if not client.enabled:
            return None
        fields = dict(base)
        if isinstance(per_call, dict):
            fields.update(per_call)
        model = kwargs.get("model")
        if isinstance(model, str):
            fields.setdefault("model", model)
        return Call(client._put_event, fields)
    except Exception:
        log.exception("PromptPulse could not start recording a call")
        return None


def _finish(call: Call, result: Any) -> None:
    try:
        call.observe(result)
    except Exception:
        log.debug("PromptPulse could not read a response", exc_info=True)
    call.finish()


def instrument(
    resource: Any,
    method: str,
    *,
    pp: Client | AsyncClient | None,
    base: dict[str, Any],
    prepare: Prepare,
    make_on_item: MakeOnItem,
) -> None:
    original = getattr(resource, method)
    if getattr(original, MARK, False):
        return

    def begin(kwargs: dict[str, Any]) -> tuple[Call | None, Any]:
        call = _start(pp, base, kwargs)
        state = None
        if call is not None and kwargs.get("stream") is True:
            try:
                state = prepare(kwargs)
            except Exception:
                log.debug("PromptPulse could not prepare a stream request", exc_info=True)
        return call, state

    async def complete_async(call: Call, pending: Any, stream: bool, state: Any) -> Any:
        try:
            result = await pending
        except BaseException as exc:
            call.fail(exc)
            raise
        if stream:
            return AsyncStreamProxy(result, call, make_on_item(state))
        _finish(call, result)
        return result

    # One wrapper for sync and async clients: an async client's method returns an awaitable
    # (the SDKs' decorators hide that from inspect.iscoroutinefunction).
    @functools.wraps(original)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        call, state = begin(kwargs)
        if call is None:
            return original(*args, **kwargs)
        stream = kwargs.get("stream") is True
        try:
            result = original(*args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        if inspect.isawaitable(result):
            return complete_async(call, result, stream, state)
        if stream:
            return SyncStreamProxy(result, call, make_on_item(state))
        _finish(call, result)
        return result

    setattr(wrapped, MARK, True)
    setattr(resource, method, wrapped)


def instrument_stream_helper(
    resource: Any, method: str, *, pp: Client | AsyncClient | None, base: dict[str, Any]
) -> None:
    """Instrument a method returning a stream manager (Anthropic's `messages.stream`): the
    call is recorded from entering the manager's `with` block."""
    original = getattr(resource, method, None)
    if original is None or getattr(original, MARK, False):
        return

    @functools.wraps(original)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        per_call = kwargs.pop("promptpulse", None)
        manager = original(*args, **kwargs)
        fields = {**kwargs, "promptpulse": per_call}
        return StreamManagerProxy(manager, lambda: _start(pp, base, fields))

    setattr(wrapped, MARK, True)
    setattr(resource, method, wrapped)


def base_fields(
    provider: str | None, prompt_id: str | None, prompt_version: str | None, extra: dict[str, Any]
) -> dict[str, Any]:
    fields = {"provider": provider, "prompt_id": prompt_id, "prompt_version": prompt_version}
    fields.update(extra)
    return {k: v for k, v in fields.items() if v is not None}
