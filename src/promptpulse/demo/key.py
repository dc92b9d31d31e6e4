"""The demo's API key: minted once, its secret kept in `<data_dir>/demo-key` (mode 0600) and
reused by every restart while it still verifies (a revoked or foreign key is replaced)."""

from __future__ import annotations

import os
from pathlib import Path

from promptpulse.config import Settings
from promptpulse.demo.scenario import PROJECT
from promptpulse.meta import MetaDB, Scope, create_key, verify_key

KEY_FILE = "demo-key"
SCOPES = frozenset({Scope.INGEST, Scope.READ, Scope.ADMIN})


def key_path(settings: Settings) -> Path:
    return settings.data_dir / KEY_FILE


def demo_key(settings: Settings, meta: MetaDB) -> tuple[str, bool]:
    """The secret of the demo's key (project `demo`, scopes ingest, read, admin) and whether it
    was minted just now."""
    path = key_path(settings)
    try:
        kept = path.read_text().strip()
    except FileNotFoundError:
        kept = ""
    key = verify_key(meta, kept) if kept else None
    if key is not None and key.project == PROJECT and key.scopes == SCOPES:
        return kept, False
    _, secret = create_key(meta, PROJECT, SCOPES, "demo")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    path.chmod(0o600)  # a file made earlier with a wider mode
    return secret, True
