"""One router for a stored object: list, create, get, replace, delete.

Budgets, SLOs, alert rules and report schedules are the same five routes over a repository with
the same five functions; `crud_router` builds them once. Reads need the `read` scope and see the
key's project only; writes need `admin`, and a project key writes its own project only (the
resource's `prepare` applies that rule). Resource-specific routes (an SLO's history, a rule's
PATCH, ...) stay next to the call.
"""

# No `from __future__ import annotations`: the body's model is a variable, read by FastAPI.

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, NamedTuple, TypeVar

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from promptpulse.errors import Forbidden
from promptpulse.meta import ApiKey, Scope
from promptpulse.web.auth import require
from promptpulse.web.context import context
from promptpulse.web.problems import documented
from promptpulse.web.schemas.common import Out, answer

S = TypeVar("S", bound=BaseModel)  # the body: what users write
R = TypeVar("R")  # the stored record


class Summaries(NamedTuple):
    list: str
    create: str
    get: str
    put: str
    delete: str


@dataclass(frozen=True)
class Resource(Generic[S, R]):
    name: str  # one object, e.g. budget: operation names and the path parameter (budget_id)
    plural: str  # the list's key, e.g. budgets
    body: type[S]
    out: type[Out]
    listing: type[Out]
    summaries: Summaries
    engine: Callable[[Request], sa.Engine]
    list: Callable[[sa.Engine, str | None], list[R]]
    create: Callable[[sa.Engine, S, datetime], R]
    get: Callable[[sa.Engine, str, str | None], R]
    update: Callable[[sa.Engine, str, S, datetime, str | None], R]
    delete: Callable[[sa.Engine, str, str | None], None]
    # a write's body under the project rules (e.g. `scoped`): may refuse (403) or narrow it
    prepare: Callable[[Request, ApiKey, S], S]
    # a record as answered (runs in a worker thread: it may query the store)
    show: Callable[[Request, R], dict[str, Any]]


def scoped(request: Request, key: ApiKey, spec: S) -> S:
    """A project key's objects always carry its project filter; another project is forbidden."""
    if key.project is None:
        return spec
    filters: dict[str, list[str]] = dict(spec.filters)  # type: ignore[attr-defined]
    asked = filters.get("project")
    if asked and set(asked) != {key.project}:
        raise Forbidden(f"this key may manage only project '{key.project}'")
    filters["project"] = [key.project]
    return spec.model_copy(update={"filters": filters})


def crud_router(prefix: str, tag: str, r: Resource[S, R]) -> APIRouter:
    """A router of its own for the resource, at `prefix`."""
    router = APIRouter(prefix=prefix, tags=[tag], responses=documented(401, 403, 422))
    add_crud_routes(router, r)
    return router


def add_crud_routes(router: APIRouter, r: Resource[S, R], under: str = "") -> None:
    """The five routes on an existing router, at `under` below its prefix (e.g. /rules)."""
    _reads(router, r, under)
    _writes(router, r, under)


def _id(r: Resource[Any, Any]) -> Any:
    return Path(alias=f"{r.name}_id")


def _reads(router: APIRouter, r: Resource[S, R], under: str) -> None:
    one = f"{under}/{{{r.name}_id}}"

    @router.get(under, summary=r.summaries.list, name=f"list_{r.plural}", **answer(r.listing))
    async def list_all(request: Request, key: ApiKey = Depends(require(Scope.READ))) -> Any:
        engine = r.engine(request)

        def load() -> list[dict[str, Any]]:
            return [r.show(request, rec) for rec in r.list(engine, key.project)]

        return {r.plural: await run_in_threadpool(load)}

    @router.get(
        one,
        summary=r.summaries.get,
        name=f"get_{r.name}",
        responses=documented(404),
        **answer(r.out),
    )
    async def get_one(
        request: Request, oid: str = _id(r), key: ApiKey = Depends(require(Scope.READ))
    ) -> Any:
        engine = r.engine(request)
        return await run_in_threadpool(lambda: r.show(request, r.get(engine, oid, key.project)))


def _writes(router: APIRouter, r: Resource[S, R], under: str) -> None:
    body_model = r.body
    one = f"{under}/{{{r.name}_id}}"

    @router.post(
        under, status_code=201, summary=r.summaries.create, name=f"create_{r.name}", **answer(r.out)
    )
    async def create(
        request: Request,
        body: body_model,  # type: ignore[valid-type]
        key: ApiKey = Depends(require(Scope.ADMIN)),
    ) -> Any:
        spec = r.prepare(request, key, body)
        engine, now = r.engine(request), context(request).clock()
        return await run_in_threadpool(lambda: r.show(request, r.create(engine, spec, now)))

    @router.put(
        one,
        summary=r.summaries.put,
        name=f"put_{r.name}",
        responses=documented(404),
        **answer(r.out),
    )
    async def put(
        request: Request,
        body: body_model,  # type: ignore[valid-type]
        oid: str = _id(r),
        key: ApiKey = Depends(require(Scope.ADMIN)),
    ) -> Any:
        spec = r.prepare(request, key, body)
        engine, now = r.engine(request), context(request).clock()
        return await run_in_threadpool(
            lambda: r.show(request, r.update(engine, oid, spec, now, key.project))
        )

    @router.delete(
        one,
        status_code=204,
        summary=r.summaries.delete,
        name=f"delete_{r.name}",
        responses=documented(404),
    )
    async def delete(
        request: Request, oid: str = _id(r), key: ApiKey = Depends(require(Scope.ADMIN))
    ) -> None:
        await run_in_threadpool(r.delete, r.engine(request), oid, key.project)
