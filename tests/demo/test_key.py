"""The demo's key: kept in the data directory (0600) and reused while it still verifies."""

from __future__ import annotations

import stat
from pathlib import Path

from promptpulse.config import Settings
from promptpulse.demo.key import SCOPES, demo_key, key_path
from promptpulse.meta import MetaDB, Scope, list_keys, revoke_key, verify_key


def test_a_restart_reuses_the_key_and_a_revoked_one_is_replaced(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    meta = MetaDB(settings.metadata_db_url)
    try:
        secret, minted = demo_key(settings, meta)
        assert minted and key_path(settings).read_text().strip() == secret
        assert stat.S_IMODE(key_path(settings).stat().st_mode) == 0o600
        key = verify_key(meta, secret)
        assert key is not None and key.project == "demo" and key.scopes == SCOPES
        assert Scope.ADMIN in key.scopes
        assert demo_key(settings, meta) == (secret, False)
        assert len(list_keys(meta)) == 1  # nothing new minted
        revoke_key(meta, key.id)
        fresh, minted = demo_key(settings, meta)
        assert minted and fresh != secret and verify_key(meta, fresh) is not None
        assert key_path(settings).read_text().strip() == fresh
        key_path(settings).write_text("pp_not-a-key\n")
        key_path(settings).chmod(0o644)
        third, minted = demo_key(settings, meta)
        assert minted and third not in (secret, fresh)
        assert stat.S_IMODE(key_path(settings).stat().st_mode) == 0o600
    finally:
        meta.close()
