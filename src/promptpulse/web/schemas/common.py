"""What every response model shares: its config, the number type, field errors."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

# A JSON number as the server computed it: whole numbers stay whole (3, not 3.0).
Number = int | float


class Out(BaseModel):
    """A response: keys it does not declare pass through unchanged."""

    model_config = ConfigDict(extra="allow")


class FieldErrorOut(Out):
    field: str
    message: str


# Route keyword arguments for a typed answer: never drop a None, never add an absent key.
def answer(model: Any) -> dict[str, Any]:
    return {
        "response_model": model,
        "response_model_exclude_none": False,
        "response_model_exclude_unset": True,
    }
