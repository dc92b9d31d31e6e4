"""Reports fixtures: the alert tests' real SMTP server and HTTP receiver, reused."""

from tests.alerts.conftest import receiver, smtp

__all__ = ["receiver", "smtp"]
