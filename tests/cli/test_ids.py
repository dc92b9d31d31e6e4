"""Ids typed back by hand: a unique start of the id is enough; an ambiguous one lists the
matches; `keys revoke` takes one."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from promptpulse.cli.ids import resolve
from promptpulse.cli.local import settings_from
from promptpulse.errors import Invalid, NotFound
from promptpulse.meta import MetaDB, Scope, create_key, list_keys
from tests.cli.helpers import assert_clean_failure, run

IDS = ["3f2a0c", "3f9b11", "a70e22"]


def test_resolve() -> None:
    assert resolve("a", IDS, "key") == "a70e22"
    assert resolve("3f2", IDS, "key") == "3f2a0c"
    assert resolve("3f9b11", IDS, "key") == "3f9b11"
    with pytest.raises(Invalid, match="'3f' is the start of 2 key ids: 3f2a0c, 3f9b11"):
        resolve("3f", IDS, "key")
    with pytest.raises(NotFound, match="no key with id 'zz'"):
        resolve("zz", IDS, "key")
    with pytest.raises(NotFound):
        resolve("", IDS, "key")


def test_keys_revoke_by_prefix(tmp_path: Path) -> None:
    meta = MetaDB(settings_from(tmp_path).metadata_db_url)
    try:
        for _ in range(17):  # 16 hex digits: two ids share their first one
            create_key(meta, "p", frozenset({Scope.READ}))
        ids = [k.id for k in list_keys(meta)]
    finally:
        meta.close()
    first, _ = Counter(i[0] for i in ids).most_common(1)[0]
    shared = sorted(i for i in ids if i.startswith(first))
    d = ("--data-dir", str(tmp_path))

    ambiguous = run("keys", "revoke", first, *d, env={"COLUMNS": "80"})
    assert_clean_failure(ambiguous, f"is the start of {len(shared)} key ids")
    assert all(i in ambiguous.stderr.replace("\n", "") for i in shared), ambiguous.stderr

    done = run("keys", "revoke", shared[0][:12], *d)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"revoked {shared[0]}"
    meta = MetaDB(settings_from(tmp_path).metadata_db_url)
    try:
        revoked = [k.id for k in list_keys(meta) if k.revoked_at is not None]
    finally:
        meta.close()
    assert revoked == [shared[0]]
    assert_clean_failure(run("keys", "revoke", "zz", *d), "no key with id 'zz'")
