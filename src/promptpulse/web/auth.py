"""Bearer API keys: who is calling, with which scope, for which project."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from promptpulse.errors import Forbidden, MetadataUnavailable, Overloaded, Unauthorized, invalid
from promptpulse.meta import UNREACHABLE, ApiKey, Scope, verify_key
from promptpulse.model import Scope as QueryScope
from promptpulse.web.context import AppContext, context


def _secret(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized("send the API key as 'Authorization: Bearer <key>'")
    return secret.strip()


def require(scope: Scope) -> Callable[[Request], Awaitable[ApiKey]]:
    async def dependency(request: Request) -> ApiKey:
        ctx = context(request)
        address = request.client.host if request.client else "unknown"
        try:
            secret = _secret(request)
            key = ctx.key_cache.get(secret)
            if key is None:
                _refuse_if_throttled(ctx.auth_failures.retry_after(address))
                key = await _verified(ctx, secret)
                if key is None:
                    raise Unauthorized("unknown or revoked API key")
                ctx.key_cache.remember(secret, key)
        except Unauthorized:
            ctx.auth_failures.failed(address)
            raise
        if not key.allows(scope):
            raise Forbidden(f"this key lacks the '{scope.value}' scope")
        _own_project_only(key, request.query_params.getlist("project"))
        return key

    return dependency


def _own_project_only(key: ApiKey, asked: list[str]) -> None:
    """A project key naming another project in `?project=` is refused on every route (a list
    would otherwise answer 200 and empty, as if the other project had nothing)."""
    if key.project is not None and asked and set(asked) != {key.project}:
        raise Forbidden(f"this key may reach only project '{key.project}'")


async def _verified(ctx: AppContext, secret: str) -> ApiKey | None:
    """The live key from the metadata database; while that cannot be reached, a key this server
    verified within `metadata_outage_grace_s` still works (reads go on in an outage), any
    other answers 503 with Retry-After rather than a misleading 401."""
    try:
        return await run_in_threadpool(verify_key, ctx.meta, secret)
    except UNREACHABLE as exc:
        known = ctx.key_cache.stale(secret, ctx.settings.metadata_outage_grace_s)
        if known is not None:
            return known
        raise MetadataUnavailable(
            "the metadata database cannot be reached to check this key; retry shortly"
        ) from exc


def _refuse_if_throttled(retry_after_s: int) -> None:
    if retry_after_s:
        raise Overloaded(
            f"too many failed authentications from this address; retry after {retry_after_s} s",
            retry_after_s=retry_after_s,
        )


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
