"""Retention policies per data class, per-project overrides, erasure on request."""

from promptpulse.retention.policy import Policy, plan
from promptpulse.retention.service import RetentionService

__all__ = ["Policy", "RetentionService", "plan"]
