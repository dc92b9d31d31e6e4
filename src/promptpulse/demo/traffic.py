"""Realistic synthetic traffic for `promptpulse demo`: a dozen prompts with versions, several
models and providers, every error type, users with tiers, daily seasonality, two incidents and
one running A/B test (rag-answer v4 against v5, split evenly by pairs of calls all week; v5 fails
output validation less often and answers more briefly, so it wins on success rate)."""

from __future__ import annotations

import bisect
import itertools
import math
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from promptpulse.ingest.schema import ERROR_TYPES


@dataclass(frozen=True)
class DemoPrompt:
    id: str
    versions: tuple[str, ...]
    models: tuple[str, ...]
    share: float
    output_tokens: int
    streams: bool


# (model, provider, base latency ms, ms per output token)
MODELS: dict[str, tuple[str, float, float]] = {
    "gpt-4o-mini": ("openai", 250, 9),
    "gpt-4o": ("openai", 450, 18),
    "o3-mini": ("openai", 1500, 12),
    "claude-sonnet-4-5": ("anthropic", 600, 20),
    "claude-3-5-haiku": ("anthropic", 300, 10),
    "gemini-2.0-flash": ("google", 200, 7),
    "llama-3.1-70b-selfhosted": ("vllm", 350, 14),
}

PROMPTS: tuple[DemoPrompt, ...] = (
    DemoPrompt(
        "support-answer", ("v1", "v2", "v3"), ("gpt-4o-mini", "claude-sonnet-4-5"), 0.22, 220, True
    ),
    DemoPrompt("ticket-triage", ("v1", "v2"), ("gpt-4o-mini",), 0.14, 30, False),
    DemoPrompt(
        "summarize-thread", ("v1", "v2"), ("claude-3-5-haiku", "gpt-4o-mini"), 0.10, 160, True
    ),
    DemoPrompt("rag-answer", ("v4", "v5"), ("gpt-4o", "claude-sonnet-4-5"), 0.10, 300, True),
    DemoPrompt("sql-generator", ("v1",), ("o3-mini",), 0.05, 120, False),
    DemoPrompt("product-description", ("v2", "v3"), ("gemini-2.0-flash",), 0.07, 180, False),
    DemoPrompt("email-reply", ("v1", "v2"), ("gpt-4o-mini",), 0.08, 200, True),
    DemoPrompt("code-review", ("v1",), ("claude-sonnet-4-5",), 0.04, 400, True),
    DemoPrompt("translate", ("v1", "v2"), ("gemini-2.0-flash", "gpt-4o-mini"), 0.06, 150, False),
    DemoPrompt("classify-intent", ("v3",), ("llama-3.1-70b-selfhosted",), 0.07, 8, False),
    DemoPrompt("extract-entities", ("v1", "v2"), ("gpt-4o-mini",), 0.04, 60, False),
    DemoPrompt("title-generator", ("v1",), ("claude-3-5-haiku",), 0.03, 15, False),
)

ERROR_WEIGHTS = {
    "timeout": 0.25,
    "rate_limit": 0.3,
    "validation": 0.08,
    "content_filter": 0.07,
    "llm_error": 0.12,
    "network": 0.08,
    "system": 0.05,
    "other": 0.05,
}
ERROR_MESSAGES = {
    "timeout": "Request timed out after 30s",
    "rate_limit": "429 Too Many Requests: rate limit reached for requests",
    "validation": "Output failed JSON schema validation",
    "content_filter": "The response was filtered due to the prompt triggering content policy",
    "llm_error": "500 The server had an error while processing your request",
    "network": "Connection reset by peer",
    "system": "Worker crashed: out of memory",
    "other": "Unexpected error",
}
ERROR_HTTP = {
    "timeout": 408,
    "rate_limit": 429,
    "content_filter": 400,
    "llm_error": 500,
    "validation": None,
    "network": None,
    "system": None,
    "other": None,
}
TIERS = ("free", "pro", "enterprise")
# The A/B test: the prompt, its control and its treatment (the demo seeds an experiment on them).
AB_PROMPT, AB_CONTROL, AB_TREATMENT = "rag-answer", "v4", "v5"
AB_CONTROL_VALIDATION_ERRORS = 0.03  # extra share of the control's calls failing validation
AB_TREATMENT_OUTPUT = 0.85  # the treatment's answers, relative to the control's length
assert set(ERROR_WEIGHTS) == set(ERROR_TYPES)


def rate_per_minute(t: datetime, base_rpm: float) -> float:
    """Calls per minute: a daytime hump, quieter weekends."""
    hour = t.hour + t.minute / 60
    daily = 0.35 + 0.65 * math.exp(-((hour - 14.5) ** 2) / 18)
    weekend = 0.6 if t.weekday() >= 5 else 1.0
    return base_rpm * daily * weekend


@dataclass
class _Call:
    """One call's facts while they are drawn; the error draw may change the last four."""

    prompt: DemoPrompt
    version: str
    model: str
    user: str
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    latency: float = 0.0
    status: str = "success"
    error_type: str | None = None


_REGIONS = ("us", "eu")
# Users arrive over the generated span (the Users page's cohorts): half are there from the start,
# the rest join evenly across it. Most calls go to users already there by a Zipf rank (long-time
# users are the heavy ones); NEW_USER_SHARE go to users who joined within NEW_USER_WINDOW of the
# span, so new users are busy for a while and then fade into the tail, as real ones do.
NEW_USER_SHARE = 0.04
NEW_USER_WINDOW = 1 / 7


class DemoTraffic:
    def __init__(self, seed: int = 7, base_rpm: float = 20.0, users: int = 3000) -> None:
        self.rng = np.random.default_rng(seed)
        self.base_rpm = base_rpm
        self.users = [f"user-{i:04d}" for i in range(users)]
        # Who calls draws from its own generator, so the rest of the traffic (and the A/B test
        # it carries) is the same draw for draw whatever the users do.
        self.user_rng = np.random.default_rng(seed + 1_000_003)
        arrivals = self.user_rng.uniform(0, 1, users - users // 2)
        self.joins = [-1.0] * (users // 2) + sorted(float(x) for x in arrivals)  # user i's
        self.user_tier = {
            u: TIERS[int(i % 10 >= 6) + int(i % 10 == 9)] for i, u in enumerate(self.users)
        }
        # Cumulative shares searched with one uniform draw: `rng.choice(p=...)` per call costs
        # ~20 µs (it validates p each time) and made seeding the demo slow.
        self.prompt_cum = list(itertools.accumulate(p.share for p in PROMPTS))
        self.error_cum = list(itertools.accumulate(ERROR_WEIGHTS.values()))
        self._ab_pending: str | None = None  # the other arm of the A/B pair begun last

    def _pick(self, cumulative: list[float]) -> int:
        """An index drawn with the weights whose running sums are `cumulative`."""
        i = bisect.bisect_right(cumulative, float(self.rng.random()) * cumulative[-1])
        return min(i, len(cumulative) - 1)

    def minutes(self, start: datetime, end: datetime) -> Iterator[list[dict[str, Any]]]:
        """Events minute by minute over [start, end)."""
        t = start.replace(second=0, microsecond=0)
        while t < end:
            count = int(self.rng.poisson(rate_per_minute(t, self.base_rpm)))
            yield [
                self.event(t + timedelta(seconds=float(self.rng.uniform(0, 60))), start, end)
                for _ in range(count)
            ]
            t += timedelta(minutes=1)

    def between(self, start: datetime, end: datetime, per_second: float) -> list[dict[str, Any]]:
        """A live trickle: Poisson arrivals at `per_second` over [start, end)."""
        seconds = (end - start).total_seconds()
        count = int(self.rng.poisson(max(seconds, 0) * per_second))
        offsets = sorted(self.rng.uniform(0, seconds, count))
        return [
            self.event(start + timedelta(seconds=float(o)), start - timedelta(days=7), end)
            for o in offsets
        ]

    def event(self, ts: datetime, start: datetime, end: datetime) -> dict[str, Any]:
        """One call at `ts`. Where `ts` falls in [start, end) rolls the newer prompt versions
        out; the incidents are dated back from `end`. Every draw from the generator happens in
        a fixed order (the helpers below are called in it): same seed, same events."""
        prompt = PROMPTS[self._pick(self.prompt_cum)]
        version = self._version(prompt, (ts - start) / max(end - start, timedelta(seconds=1)))
        model = prompt.models[int(self.rng.random() < 0.3) if len(prompt.models) > 1 else 0]
        user = self._user(
            int(self.rng.zipf(1.6)), (ts - start) / max(end - start, timedelta(seconds=1))
        )
        call = self._tokens(prompt, version, model, user)
        days_ago = (end - ts).total_seconds() / 86400
        self._latency(call, days_ago)
        self._error(call, days_ago)
        return self._record(call, ts)

    def _user(self, rank: int, progress: float) -> str:
        """A user who has joined by `progress` (0..1 through the span): by Zipf rank, or (a
        share of calls) one who joined within the last NEW_USER_WINDOW."""
        joined = max(1, bisect.bisect_right(self.joins, progress))
        if self.user_rng.random() < NEW_USER_SHARE:
            recent = bisect.bisect_left(self.joins, progress - NEW_USER_WINDOW)
            if recent < joined:
                return self.users[int(self.user_rng.integers(recent, joined))]
        return self.users[rank % joined]

    def _version(self, prompt: DemoPrompt, progress: float) -> str:
        if prompt.id == AB_PROMPT:  # the A/B test: half and half, per call, all along
            return self._ab_version()
        # Newer versions roll out over the week: the last one takes over in the second half.
        newest_share = min(1.0, max(0.0, (progress - 0.3) * 2))
        if self.rng.random() < newest_share or len(prompt.versions) == 1:
            return prompt.versions[-1]
        return prompt.versions[int(self.rng.integers(0, len(prompt.versions) - 1))]

    def _ab_version(self) -> str:
        """The A/B test's arms in pairs of calls, in a random order within each pair. A coin per
        call split 4,430 calls 2,336 to 2,094 when the demo was seeded at 11:49 UTC one day,
        and the Experiments page rightly called that a sample ratio mismatch (p < 0.001)."""
        if self._ab_pending is not None:
            version, self._ab_pending = self._ab_pending, None
            return version
        first, second = (
            (AB_TREATMENT, AB_CONTROL) if self.rng.random() < 0.5 else (AB_CONTROL, AB_TREATMENT)
        )
        self._ab_pending = second
        return first

    def _tokens(self, prompt: DemoPrompt, version: str, model: str, user: str) -> _Call:
        rng = self.rng
        input_tokens = int(rng.lognormal(math.log(900), 0.6))
        output_tokens = max(1, int(rng.lognormal(math.log(prompt.output_tokens), 0.45)))
        if prompt.id == "support-answer" and version == "v3":
            output_tokens = int(output_tokens * 1.4)  # the v3 prompt is chattier
        if prompt.id == AB_PROMPT and version == AB_TREATMENT:
            output_tokens = max(1, int(output_tokens * AB_TREATMENT_OUTPUT))
        cached = int(input_tokens * rng.uniform(0.2, 0.8)) if rng.random() < 0.35 else 0
        reasoning = int(output_tokens * 0.6) if model == "o3-mini" else 0
        return _Call(prompt, version, model, user, input_tokens, output_tokens, cached, reasoning)

    def _latency(self, call: _Call, days_ago: float) -> None:
        provider, base_ms, per_token = MODELS[call.model]
        call.latency = (base_ms + per_token * call.output_tokens) * float(
            self.rng.lognormal(0, 0.25)
        )
        # Incident 1: a provider slowdown, 2 days ago, 13:00-15:00 UTC.
        if provider == "anthropic" and 1.9 < days_ago < 2.0:
            call.latency *= 2.5

    def _error(self, call: _Call, days_ago: float) -> None:
        # Incident 2: gpt-4o-mini rate-limited for about an hour, 4 days ago.
        spike = call.model == "gpt-4o-mini" and 4.02 < days_ago < 4.06
        # The A/B test's control fails output validation more often than its treatment.
        invalid = (
            AB_CONTROL_VALIDATION_ERRORS
            if (call.prompt.id, call.version) == (AB_PROMPT, AB_CONTROL)
            else 0.0
        )
        error_p = 0.025 + (0.25 if spike else 0) + invalid
        if not self.rng.random() < error_p:
            return
        call.status = "error"
        if invalid and self.rng.random() < invalid / error_p:
            call.error_type = "validation"
        elif error_p > 0.2 and self.rng.random() < 0.8:
            call.error_type = "rate_limit"
        else:
            call.error_type = list(ERROR_WEIGHTS)[self._pick(self.error_cum)]
        if call.error_type == "timeout":
            call.latency = 30_000.0
        call.output_tokens, call.reasoning_tokens = 0, 0

    def _record(self, call: _Call, ts: datetime) -> dict[str, Any]:
        """The call as the ingest API takes it (the time to first token is drawn first)."""
        rng, prompt, user = self.rng, call.prompt, call.user
        streamed = prompt.streams and call.status == "success"
        ttft = call.latency * float(rng.uniform(0.12, 0.3)) if streamed else None
        event: dict[str, Any] = {
            "id": uuid.UUID(bytes=rng.bytes(16), version=4).hex,
            "timestamp": ts.astimezone(UTC).isoformat(),
            "prompt_id": prompt.id,
            "prompt_version": call.version,
            "model": call.model,
            "provider": MODELS[call.model][0],
            "environment": "production" if rng.random() < 0.9 else "staging",
            "feature": prompt.id.split("-")[0],
            "user_id": user,
            "session_id": f"s-{user}-{int(ts.timestamp() // 1800)}",
            "tags": ["streaming"] if prompt.streams else [],
            "metadata": {
                "tier": self.user_tier[user],
                "region": "eu" if rng.random() < 0.5 else "us",
            },
            "status": call.status,
            "latency_ms": round(call.latency, 2),
            "input_tokens": call.input_tokens,
            "output_tokens": call.output_tokens,
            "cached_tokens": call.cached_tokens,
            "reasoning_tokens": call.reasoning_tokens,
            "cache_hit": bool(rng.random() < 0.05),
            "retries": int(rng.random() < 0.03),
        }
        if ttft is not None:
            event["ttft_ms"] = round(ttft, 2)
        if call.error_type:
            event["error_type"] = call.error_type
            event["error_message"] = ERROR_MESSAGES[call.error_type]
            if ERROR_HTTP[call.error_type]:
                event["http_status"] = ERROR_HTTP[call.error_type]
        return event
