"""Domain errors. The web layer maps each to an RFC 9457 problem (see web/problems.py)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


@dataclass
class PromptPulseError(Exception):
    detail: str
    errors: list[FieldError] = field(default_factory=list)

    status = 500
    title = "Internal error"

    def __str__(self) -> str:
        return self.detail


class Invalid(PromptPulseError):
    status = 422
    title = "Invalid request"


class BadRequest(PromptPulseError):
    status = 400
    title = "Bad request"


class TooLarge(PromptPulseError):
    status = 413
    title = "Request too large"


class UnsupportedMediaType(PromptPulseError):
    status = 415
    title = "Unsupported media type"


class Unauthorized(PromptPulseError):
    status = 401
    title = "Unauthorized"


class Forbidden(PromptPulseError):
    status = 403
    title = "Forbidden"


class NotFound(PromptPulseError):
    status = 404
    title = "Not found"


class Conflict(PromptPulseError):
    """The request contradicts what is stored (an overlapping price validity...)."""

    status = 409
    title = "Conflict"


class LeaseLost(Exception):
    """A periodic job's write found that this replica no longer holds the jobs lease (it ran
    past its expiry, and another replica may lead now): the write is abandoned."""


@dataclass
class Overloaded(PromptPulseError):
    retry_after_s: int = 1

    status = 429
    title = "Too many requests"


class StoreUnavailable(PromptPulseError):
    status = 503
    title = "Store unavailable"


@dataclass
class WriteFailed(StoreUnavailable):
    """The store could not commit (a full disk...): nothing of the batch was stored; retry."""

    retry_after_s: int = 5


@dataclass
class ParserUnavailable(PromptPulseError):
    """A parse worker process died or stopped answering: nothing of the batch was stored and
    another worker is started; retry."""

    retry_after_s: int = 1

    status = 503
    title = "Ingest unavailable"


@dataclass
class MetadataUnavailable(StoreUnavailable):
    """The metadata database (keys, rules, budgets...) cannot be reached: reads go on with keys
    this server already knows, changes wait until it is back."""

    retry_after_s: int = 5
    title = "Metadata database unavailable"


def invalid(field_name: str, message: str) -> Invalid:
    """An Invalid naming one field, the common case."""
    return Invalid(f"{field_name}: {message}", [FieldError(field_name, message)])


class SchemaTooNew(StoreUnavailable):
    """The metadata database was migrated by a newer PromptPulse than this one."""

    title = "Metadata database too new"
