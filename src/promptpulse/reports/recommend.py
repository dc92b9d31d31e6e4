"""Recommendations from per-prompt (and per prompt and model) catalog figures. Pure.

Each one says the numbers behind it. Guards keep noise out: every figure compared needs at
least `min_requests` calls on each side.

- output_tokens_growth: output tokens per request (`output_tokens` / `requests`) of a prompt
  grew by 40 % or more against the previous period.
- cheaper_model: on the same prompt, another model costs at most half as much per request
  (`cost_per_request_usd`) at a success rate no more than 1 point lower, both fully priced.
- rising_error_rate: a prompt's `error_rate` rose by at least 2 points and 1.5x, and the rise
  is unlikely to be noise (two-proportion z >= 2).
"""

from __future__ import annotations

import math
from typing import Any

from promptpulse.model import fmt
from promptpulse.reports.model import Recommendation

MIN_REQUESTS = 20
OUTPUT_GROWTH = 0.40
CHEAPER_AT_MOST = 0.5  # the cheaper model's cost per request, as a fraction of the other's
SUCCESS_TOLERANCE = 0.01  # 1 point
ERROR_RISE_POINTS = 0.02
ERROR_RISE_FACTOR = 1.5
ERROR_RISE_Z = 2.0
EPS = 1e-9  # thresholds are inclusive; float ratios land a hair either side

Rows = dict[str, dict[str, Any]]


def recommend(
    current: Rows,
    previous: Rows,
    by_model: dict[tuple[str, str], dict[str, Any]],
    min_requests: int = MIN_REQUESTS,
) -> list[Recommendation]:
    return [
        *output_growth(current, previous, min_requests),
        *cheaper_models(by_model, min_requests),
        *rising_errors(current, previous, min_requests),
    ]


def _enough(*rows: dict[str, Any] | None, n: int) -> bool:
    return all(r is not None and (r.get("requests") or 0) >= n for r in rows)


def output_growth(current: Rows, previous: Rows, min_requests: int) -> list[Recommendation]:
    out = []
    for prompt, cur in sorted(current.items()):
        prev = previous.get(prompt)
        if prev is None or not _enough(cur, prev, n=min_requests):
            continue
        now_per = cur["output_tokens_per_request"] or 0.0  # the catalog's metric
        before = prev["output_tokens_per_request"] or 0.0
        if before <= 0 or now_per / before - 1 < OUTPUT_GROWTH - EPS:
            continue
        growth = now_per / before - 1
        out.append(
            Recommendation(
                kind="output_tokens_growth",
                title=f"Output tokens per request of '{prompt}' grew {growth:.0%}",
                detail=(
                    f"'{prompt}' produced {fmt.count(now_per)} output tokens per request "
                    f"(output_tokens_per_request) against {fmt.count(before)} the period before "
                    f"(+{growth:.0%}; {cur['requests']:,} calls now, {prev['requests']:,} "
                    "before). A prompt change may have made answers longer: check it, or cap "
                    "max_tokens."
                ),
                prompt_id=prompt,
                numbers={
                    "output_tokens_per_request": now_per,
                    "previous_output_tokens_per_request": before,
                    "growth": growth,
                    "requests": cur["requests"],
                    "previous_requests": prev["requests"],
                },
            )
        )
    return out


def cheaper_models(
    by_model: dict[tuple[str, str], dict[str, Any]], min_requests: int
) -> list[Recommendation]:
    prompts: dict[str, dict[str, dict[str, Any]]] = {}
    for (prompt, model), row in by_model.items():
        priced = (row.get("unpriced_requests") or 0) == 0 and row.get("cost_per_request_usd")
        if _enough(row, n=min_requests) and priced and row.get("success_rate") is not None:
            prompts.setdefault(prompt, {})[model] = row
    found = []
    for prompt, models in sorted(prompts.items()):
        for model, a in sorted(models.items()):
            options = [
                (b["cost_per_request_usd"], other, b)
                for other, b in models.items()
                if other != model
                and b["cost_per_request_usd"] <= CHEAPER_AT_MOST * a["cost_per_request_usd"] + EPS
                and b["success_rate"] >= a["success_rate"] - SUCCESS_TOLERANCE - EPS
            ]
            if not options:
                continue
            _, other, b = min(options, key=lambda o: (o[0], o[1]))
            a_cpr, b_cpr = a["cost_per_request_usd"], b["cost_per_request_usd"]
            saving = (a_cpr - b_cpr) * a["requests"]
            found.append(
                Recommendation(
                    kind="cheaper_model",
                    title=f"'{prompt}': {other} costs {1 - b_cpr / a_cpr:.0%} less than {model}",
                    detail=(
                        f"On '{prompt}', {other} cost {fmt.usd(b_cpr)} per request at a "
                        f"{fmt.pct(b['success_rate'])} success rate ({b['requests']:,} calls), "
                        f"{model} {fmt.usd(a_cpr)} at {fmt.pct(a['success_rate'])} "
                        f"({a['requests']:,} calls). Moving {model}'s calls to {other} would "
                        f"have saved about {fmt.usd(saving)} this period; check quality first."
                    ),
                    prompt_id=prompt,
                    model=model,
                    numbers={
                        "alternative": other,
                        "cost_per_request_usd": a_cpr,
                        "alternative_cost_per_request_usd": b_cpr,
                        "success_rate": a["success_rate"],
                        "alternative_success_rate": b["success_rate"],
                        "requests": a["requests"],
                        "alternative_requests": b["requests"],
                        "saving_usd": saving,
                    },
                )
            )
    found.sort(key=lambda r: -float(r.numbers["saving_usd"] or 0))
    return found


def two_proportion_z(e1: int, n1: int, e0: int, n0: int) -> float:
    """z of the rise from e0/n0 to e1/n1 under a pooled proportion (0 when undefined)."""
    pooled = (e1 + e0) / (n1 + n0)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0)) if 0 < pooled < 1 else 0.0
    return (e1 / n1 - e0 / n0) / se if se else 0.0


def rising_errors(current: Rows, previous: Rows, min_requests: int) -> list[Recommendation]:
    out = []
    for prompt, cur in sorted(current.items()):
        prev = previous.get(prompt)
        if prev is None or not _enough(cur, prev, n=min_requests):
            continue
        now, before = cur["error_rate"] or 0.0, prev["error_rate"] or 0.0
        e1, n1, e0, n0 = cur["errors"] or 0, cur["requests"], prev["errors"] or 0, prev["requests"]
        z = two_proportion_z(e1, n1, e0, n0)
        rise = now - before
        if (
            rise < ERROR_RISE_POINTS - EPS
            or now < ERROR_RISE_FACTOR * before - EPS
            or z < ERROR_RISE_Z
        ):
            continue
        out.append(
            Recommendation(
                kind="rising_error_rate",
                title=f"Error rate of '{prompt}' rose to {fmt.pct(now)}",
                detail=(
                    f"'{prompt}' failed {e1:,} of {n1:,} calls ({fmt.pct(now)}) against {e0:,} of "
                    f"{n0:,} ({fmt.pct(before)}) the period before: +{rise * 100:.1f} points "
                    f"(z = {z:.1f}). Look at its errors by type and its latest version."
                ),
                prompt_id=prompt,
                numbers={
                    "error_rate": now,
                    "previous_error_rate": before,
                    "errors": e1,
                    "requests": n1,
                    "previous_errors": e0,
                    "previous_requests": n0,
                    "z": z,
                },
            )
        )
    return out
