"""Where the CLI prints: results on stdout, problems and progress bars on stderr."""

from __future__ import annotations

from rich.console import Console

console = Console()
err = Console(stderr=True)
