"""/v1/experiments: CRUD, results, planning and exposures (what the SDKs' `assign` records)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from promptpulse.errors import FieldError, Invalid
from promptpulse.experiments import power, repo
from promptpulse.experiments.compare import DEFAULT_GUARDRAILS, DEFAULT_PRIMARY
from promptpulse.experiments.results import results
from promptpulse.meta import ApiKey, Scope
from promptpulse.query.parse import Errors, Param, ParamKind, read
from promptpulse.web.auth import project_for_write, require
from promptpulse.web.context import context
from promptpulse.web.openapi import query_params
from promptpulse.web.problems import documented

NOT_FOUND = documented(404)  # an id or key naming no experiment (of the key's project)
router = APIRouter(
    prefix="/v1/experiments", tags=["experiments"], responses=documented(401, 403, 422)
)
MAX_EXPOSURES = 10_000


class VariantIn(BaseModel):
    name: str | None = Field(None, max_length=100, description="Default: the filter's value")
    filter: str = Field(..., description="dimension=value, e.g. prompt_version=v2")
    weight: float = Field(
        1.0, gt=0, allow_inf_nan=False, description="Share of traffic (any positive scale)"
    )


class ExperimentIn(BaseModel):
    name: str = Field(..., min_length=1, max_length=200)
    key: str | None = Field(
        None,
        description="Stable id hashed for assignment (default: "
        "from the name); unique in the project",
    )
    hypothesis: str | None = None
    variants: list[VariantIn] = Field(..., min_length=2, description="The first is the control")
    primary_metric: str = DEFAULT_PRIMARY
    direction: str | None = Field(None, description="higher or lower (default: the catalog's)")
    guardrails: list[str] = Field(default_factory=lambda: list(DEFAULT_GUARDRAILS))
    mde: float | None = Field(
        None,
        description="Minimum detectable effect, absolute, in the "
        "primary metric's unit (0.01 = one point of a rate)",
    )
    alpha: float = 0.05
    power: float = 0.8
    start: datetime | None = Field(None, description="Default: now")
    end: datetime | None = None


class ExperimentPatch(BaseModel):
    """Key, variants and dimension cannot change: that would reshuffle assigned units."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    hypothesis: str | None = None
    primary_metric: str | None = None
    direction: str | None = None
    guardrails: list[str] | None = None
    mde: float | None = None
    alpha: float | None = None
    power: float | None = None
    start: datetime | None = None
    end: datetime | None = None
    status: str | None = Field(None, description="running or stopped")


class ExposureIn(BaseModel):
    unit_id: str = Field(..., description="The user or session id that was assigned")
    variant: str | None = Field(None, description="Default: the server assigns by hashing")
    timestamp: datetime | None = None


class ExposuresIn(BaseModel):
    exposures: list[ExposureIn] = Field(..., max_length=MAX_EXPOSURES)


def _slug(name: str) -> str:
    out = "".join(c if c.isalnum() or c in "_.:-" else "-" for c in name.strip().lower())
    return "-".join(p for p in out.split("-") if p)[:100] or "experiment"


def _build(body: ExperimentIn, project: str, now: datetime) -> repo.Experiment:
    dims, variants, errors = set(), [], []
    for i, v in enumerate(body.variants):
        try:
            dim, value = repo.parse_variant_filter(v.filter)
        except ValueError as exc:
            errors.append(FieldError(f"variants.{i}.filter", str(exc)))
            continue
        dims.add(dim)
        variants.append(repo.Variant(v.name or value, value, v.weight))
    if len(dims) > 1:
        errors.append(FieldError("variants", "every variant must filter the same dimension"))
    if errors:
        raise Invalid("; ".join(f"{e.field}: {e.message}" for e in errors), errors)
    return repo.Experiment(
        id="",
        project=project,
        key=body.key or _slug(body.name),
        name=body.name,
        hypothesis=body.hypothesis,
        dimension=dims.pop(),
        variants=tuple(variants),
        primary_metric=body.primary_metric,
        direction=body.direction,
        guardrails=tuple(body.guardrails),
        mde=body.mde,
        alpha=body.alpha,
        power=body.power,
        start=body.start or now,
        end=body.end,
        created_at=now,
    )


PLAN_PARAMS: tuple[Param, ...] = (
    Param("baseline", ParamKind.NUMBER, "Current rate of the metric (proportions)"),
    Param("sd", ParamKind.NUMBER, "Standard deviation (means, instead of baseline)"),
    Param("mde", ParamKind.NUMBER, "Minimum detectable effect, absolute", required=True),
    Param("alpha", ParamKind.NUMBER, "Significance level", default=0.05),
    Param("power", ParamKind.NUMBER, "Power", default=0.8),
    Param("ratio", ParamKind.NUMBER, "Treatment / control size", default=1.0),
    Param("variants", ParamKind.NUMBER, "Number of variants, an integer ≥ 2", default=2),
    Param("daily_calls", ParamKind.NUMBER, "Calls per day over all variants"),
)


@router.get(
    "/plan",
    summary="Sample size per variant (and days to go at a traffic rate)",
    openapi_extra=query_params(PLAN_PARAMS),
)
async def plan(request: Request, _: ApiKey = Depends(require(Scope.READ))) -> dict[str, Any]:
    errors = Errors()
    v = read(PLAN_PARAMS, request.query_params, errors)
    base, spread, effect, level = v["baseline"], v["sd"], v["mde"], v["alpha"]
    target_power, size_ratio, arms, per_day = (
        v["power"],
        v["ratio"],
        v["variants"],
        v["daily_calls"],
    )
    if (base is None) == (spread is None):
        errors.add("baseline", "give baseline (a rate) or sd (a mean's spread), not both")
    if arms is None or arms < 2 or arms != int(arms):
        errors.add("variants", "must be an integer ≥ 2")
    if size_ratio is None or not size_ratio > 0:
        errors.add("ratio", "must be positive")
    errors.raise_if_any()
    assert effect is not None and level is not None and target_power is not None
    assert size_ratio is not None and arms is not None
    if base is not None:
        p = power.sample_size_proportions(base, effect, level, target_power, size_ratio)
        test = "two_proportion_z"
    else:
        assert spread is not None
        p = power.sample_size_means(spread, effect, level, target_power, size_ratio)
        test = "t"
    total = p.per_variant * (1 + size_ratio * (arms - 1))
    return {
        "per_variant": p.per_variant,
        "control": p.per_variant,
        "treatment": int(-(-p.per_variant * size_ratio // 1)),
        "total": int(-(-total // 1)),
        "effect_size": p.effect_size,
        "target": p.target,
        "baseline": base,
        "sd": spread,
        "mde": effect,
        "alpha": level,
        "power": target_power,
        "test": test,
        "days": (total / per_day) if per_day else None,
    }


@router.post("", status_code=201, summary="Create an experiment")
async def create(
    request: Request,
    body: ExperimentIn,
    project: str | None = Query(None, description="Required with an admin key"),
    key: ApiKey = Depends(require(Scope.ADMIN)),
) -> dict[str, Any]:
    ctx = context(request)
    exp = _build(body, project_for_write(key, project), ctx.clock())
    return (await run_in_threadpool(repo.create, ctx.meta, exp)).as_dict()


@router.get("", summary="Experiments of the key's project (admin: all)")
async def list_experiments(
    request: Request, key: ApiKey = Depends(require(Scope.READ))
) -> dict[str, Any]:
    found = await run_in_threadpool(repo.list_all, context(request).meta, key.project)
    return {"experiments": [e.as_dict() for e in found]}


@router.get("/{ref}", summary="One experiment, by id or key", responses=NOT_FOUND)
async def get_one(
    request: Request, ref: str, key: ApiKey = Depends(require(Scope.READ))
) -> dict[str, Any]:
    return (await run_in_threadpool(repo.get, context(request).meta, ref, key.project)).as_dict()


@router.patch(
    "/{ref}", summary="Change name, hypothesis, metrics, mde, end or status", responses=NOT_FOUND
)
async def patch(
    request: Request, ref: str, body: ExperimentPatch, key: ApiKey = Depends(require(Scope.ADMIN))
) -> dict[str, Any]:
    meta = context(request).meta
    exp = await run_in_threadpool(repo.get, meta, ref, key.project)
    changes = body.model_dump(exclude_unset=True)
    return (await run_in_threadpool(repo.update, meta, exp, changes)).as_dict()


@router.delete(
    "/{ref}", status_code=204, summary="Delete an experiment and its exposures", responses=NOT_FOUND
)
async def remove(
    request: Request, ref: str, key: ApiKey = Depends(require(Scope.ADMIN))
) -> Response:
    meta = context(request).meta
    exp = await run_in_threadpool(repo.get, meta, ref, key.project)
    await run_in_threadpool(repo.delete, meta, exp)
    return Response(status_code=204)


@router.get(
    "/{ref}/results",
    summary="Comparison, SRM check, sequential decision, plan, daily",
    responses=NOT_FOUND,
)
async def get_results(
    request: Request, ref: str, key: ApiKey = Depends(require(Scope.READ))
) -> dict[str, Any]:
    ctx = context(request)
    exp = await run_in_threadpool(repo.get, ctx.meta, ref, key.project)
    return await run_in_threadpool(results, ctx.store, ctx.meta, exp, ctx.clock())


@router.post(
    "/{ref}/exposures",
    summary="Record units' first exposure (the SDKs' assign)",
    responses=NOT_FOUND,
)
async def post_exposures(
    request: Request, ref: str, body: ExposuresIn, key: ApiKey = Depends(require(Scope.INGEST))
) -> dict[str, Any]:
    ctx = context(request)
    exp = await run_in_threadpool(repo.get, ctx.meta, ref, key.project)
    items = [repo.Exposure(e.unit_id, e.variant, e.timestamp) for e in body.exposures]
    return await run_in_threadpool(repo.record_exposures, ctx.meta, exp, items, ctx.clock())


@router.get(
    "/{ref}/assign", summary="The variant of a unit (pure; records nothing)", responses=NOT_FOUND
)
async def get_assign(
    request: Request,
    ref: str,
    unit_id: str = Query(..., min_length=1, max_length=200),
    key: ApiKey = Depends(require(Scope.READ)),
) -> dict[str, Any]:
    exp = await run_in_threadpool(repo.get, context(request).meta, ref, key.project)
    return {"experiment": exp.key, "unit_id": unit_id, "variant": exp.assign(unit_id)}
