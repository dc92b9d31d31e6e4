"""Exceptions to PromptPulse's error types, by class name and HTTP status (no provider imports)."""

from __future__ import annotations

from typing import Any

ERROR_TYPES = (
    "timeout", "rate_limit", "validation", "content_filter",
    "llm_error", "network", "system", "other",
)  # fmt: skip

_TIMEOUT = frozenset(
    {"APITimeoutError", "TimeoutError", "TimeoutException", "ReadTimeout", "ConnectTimeout",
     "WriteTimeout", "PoolTimeout", "RequestTimeoutError", "GatewayTimeoutError"}
)  # fmt: skip
_NETWORK = frozenset(
    {"APIConnectionError", "ConnectionError", "ConnectError", "NetworkError", "RemoteProtocolError",
     "ClientConnectionError", "ClientConnectorError"}
)  # fmt: skip
_CONTENT_FILTER_CODES = ("content_filter", "content_policy_violation", "content_policy")


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    if status is None:
        status = getattr(getattr(exc, "response", None), "status_code", None)
    return status if isinstance(status, int) and 100 <= status <= 599 else None


def _mentions_content_filter(exc: BaseException) -> bool:
    code = getattr(exc, "code", None)
    body: Any = getattr(exc, "body", None)
    texts = [str(code or "")]
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            texts += [str(inner.get("code") or ""), str(inner.get("type") or "")]
    return any(c in t for t in texts for c in _CONTENT_FILTER_CODES)


def classify(exc: BaseException) -> tuple[str, int | None]:
    """The error type for an exception, and its HTTP status when it came from an HTTP answer."""
    names = {c.__name__ for c in type(exc).__mro__}
    status = _status(exc)
    if names & _TIMEOUT or status in (408, 504):
        return "timeout", status
    if "RateLimitError" in names or status == 429:
        return "rate_limit", status
    if "ContentFilterFinishReasonError" in names or _mentions_content_filter(exc):
        return "content_filter", status
    if status is not None:
        if status in (400, 404, 409, 413, 415, 422):
            return "validation", status
        return "llm_error", status  # 401/403 (key), 5xx, 529 overloaded
    if names & _NETWORK:
        return "network", None
    if "APIResponseValidationError" in names or "APIError" in names:
        return "llm_error", None
    if isinstance(exc, ConnectionError):
        return "network", None
    if isinstance(exc, (MemoryError, SystemError, RecursionError)):
        return "system", None
    return "other", None


def message(exc: BaseException, limit: int = 2048) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text[:limit]
