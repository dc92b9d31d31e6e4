"""GET /v1/users/activity, /retention, /top and /v1/users/{user_id}: thin over query.users.

Read scope; a project key sees only its project. The fixed names are routed first, so a user
whose id is exactly `activity`, `retention` or `top` has no page of their own (docs/users.md).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from promptpulse.meta import ApiKey, Scope
from promptpulse.query import users
from promptpulse.web.auth import require, restrict_to_key
from promptpulse.web.context import context
from promptpulse.web.openapi import query_params
from promptpulse.web.problems import documented
from promptpulse.web.schemas.common import answer
from promptpulse.web.schemas.users import Activity, Retention, TopUsers, UserDetail

router = APIRouter(prefix="/v1/users", tags=["users"], responses=documented(401, 403, 422))

DOC = (
    "A user is a (project, user_id) pair. Without `from`, the range is the 30 days before `to`. "
    "Filters narrow the calls first, first-seen included. Definitions: docs/users.md."
)


@router.get(
    "/activity",
    summary="Active, new and returning users; DAU, WAU, MAU per UTC day or ISO week",
    description=DOC,
    openapi_extra=query_params(users.ACTIVITY_PARAMS),
    **answer(Activity),
)
async def activity(request: Request, key: ApiKey = Depends(require(Scope.READ))) -> Any:
    ctx = context(request)
    q = users.parse_activity(request.query_params, ctx.clock())
    scope = restrict_to_key(key, q.scope)
    return await run_in_threadpool(users.activity, ctx.store, scope, q.interval)


@router.get(
    "/retention",
    summary="First-seen day cohorts and the share active on day 1, 7 and 30",
    description=DOC,
    openapi_extra=query_params(users.RETENTION_PARAMS),
    **answer(Retention),
)
async def retention(request: Request, key: ApiKey = Depends(require(Scope.READ))) -> Any:
    ctx = context(request)
    q = users.parse_retention(request.query_params, ctx.clock())
    scope = restrict_to_key(key, q.scope)
    return await run_in_threadpool(users.retention, ctx.store, scope, q.days)


@router.get(
    "/top",
    summary="Users ranked by a metric (calls, errors, cost, ...)",
    description=DOC,
    openapi_extra=query_params(users.TOP_PARAMS),
    **answer(TopUsers),
)
async def top(request: Request, key: ApiKey = Depends(require(Scope.READ))) -> Any:
    ctx = context(request)
    q = users.parse_top(request.query_params, ctx.clock())
    scope = restrict_to_key(key, q.scope)
    return await run_in_threadpool(users.top, ctx.store, scope, q.sort, q.limit)


@router.get(
    "/{user_id:path}",
    summary="One user: first and last seen, KPIs, a series, top prompts and models",
    description=DOC + " The id is URL-encoded in the path (any characters, `/` as %2F); "
    "404 when no stored call of the user matches the filters.",
    openapi_extra=query_params(users.USER_PARAMS),
    responses=documented(404),
    **answer(UserDetail),
)
async def one_user(
    user_id: str, request: Request, key: ApiKey = Depends(require(Scope.READ))
) -> Any:
    ctx = context(request)
    q = users.parse_user(_path_user(request, user_id), request.query_params, ctx.clock())
    scope = restrict_to_key(key, q.scope)
    return await run_in_threadpool(users.user, ctx.store, scope, q.interval)


def _path_user(request: Request, decoded: str) -> str:
    """The id as sent, percent-decoded once from the raw path: an id holding `%2F` as text
    stays itself (some clients' scope `path` is decoded twice)."""
    raw = request.scope.get("raw_path")
    marker = router.prefix + "/"
    if isinstance(raw, bytes) and marker in raw.decode("latin-1"):
        return unquote(raw.decode("latin-1").split(marker, 1)[1])
    return decoded
