"""Reports fixtures: the notification tests' real SMTP server and HTTP receiver, reused."""

from tests.notify.conftest import receiver, smtp

__all__ = ["receiver", "smtp"]
