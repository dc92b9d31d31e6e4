"""Bearer API keys: who is calling, with which scope, for which project."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from promptpulse.errors import Forbidden, Unauthorized, invalid
from promptpulse.meta import ApiKey, Scope, verify_key
from promptpulse.model import Scope as QueryScope
from promptpulse.web.context import context

_CACHE_S = 1.0  # a revoked key stops working within a second


def _secret(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized("send the API key as 'Authorization: Bearer <key>'")
    return secret.strip()


def require(scope: Scope) -> Callable[[Request], Awaitable[ApiKey]]:
    async def dependency(request: Request) -> ApiKey:
        secret = _secret(request)
        cache = context(request).key_cache
        now = time.monotonic()
        hit = cache.get(secret)
        if hit is None or hit[0] < now:
            key = await run_in_threadpool(verify_key, context(request).meta, secret)
            if len(cache) > 10_000:
                cache.clear()
            cache[secret] = (now + _CACHE_S, key)
        else:
            key = hit[1]
        if key is None:
            raise Unauthorized("unknown or revoked API key")
        if not key.allows(scope):
            raise Forbidden(f"this key lacks the '{scope.value}' scope")
        return key

    return dependency


def restrict_to_key(key: ApiKey, scope: QueryScope) -> QueryScope:
    """A project key reads only its project; naming another is forbidden, not silently empty."""
    if key.project is None:
        return scope
    asked = scope.filter_values("project")
    if asked is not None and set(asked) != {key.project}:
        raise Forbidden(f"this key may read only project '{key.project}'")
    return scope.with_filter("project", [key.project])


def project_for_write(key: ApiKey, project: str | None) -> str:
    if key.project is not None:
        if project is not None and project != key.project:
            raise Forbidden(f"this key may change only project '{key.project}'")
        return key.project
    if project is None:
        raise invalid("project", "required with an admin key (?project=...)")
    return project
