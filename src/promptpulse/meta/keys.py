"""API keys: random secrets shown once, stored as SHA-256, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import sqlalchemy as sa

from promptpulse.errors import Invalid, NotFound, invalid
from promptpulse.meta.db import MetaDB
from promptpulse.meta.tables import api_keys

KEY_PREFIX = "pp_"


class Scope(StrEnum):
    INGEST = "ingest"
    READ = "read"
    ADMIN = "admin"


@dataclass(frozen=True)
class ApiKey:
    id: str
    prefix: str
    project: str | None  # None: admin key for every project
    scopes: frozenset[Scope]
    name: str | None
    created_at: datetime
    revoked_at: datetime | None = None

    def allows(self, scope: Scope) -> bool:
        return Scope.ADMIN in self.scopes or scope in self.scopes

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "prefix": self.prefix,
            "project": self.project,
            "scopes": sorted(s.value for s in self.scopes),
            "name": self.name,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_scopes(raw: str) -> frozenset[Scope]:
    names = [s.strip() for s in raw.split(",") if s.strip()]
    if not names:
        raise invalid("scopes", "give at least one of ingest, read, admin")
    try:
        return frozenset(Scope(n) for n in names)
    except ValueError:
        raise invalid("scopes", f"'{raw}' must be a comma list of ingest, read, admin") from None


def create_key(
    db: MetaDB, project: str | None, scopes: frozenset[Scope], name: str | None = None
) -> tuple[ApiKey, str]:
    """A new key and its secret; the secret is never stored and cannot be shown again."""
    if project is None and Scope.ADMIN not in scopes:
        raise Invalid(
            "a key without a project must have the admin scope",
            [],
        )
    if project is not None and not (0 < len(project) <= 100):
        raise invalid("project", "must be 1 to 100 characters")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        id=secrets.token_hex(8),
        prefix=secret[:10],
        project=project,
        scopes=scopes,
        name=name,
        created_at=datetime.now(UTC),
    )
    with db.engine.begin() as conn:
        conn.execute(
            api_keys.insert().values(
                id=key.id,
                key_hash=_hash(secret),
                prefix=key.prefix,
                project=project,
                scopes=",".join(sorted(s.value for s in scopes)),
                name=name,
                created_at=key.created_at,
            )
        )
    return key, secret


def _row_to_key(row: sa.Row) -> ApiKey:  # type: ignore[type-arg]
    return ApiKey(
        id=row.id,
        prefix=row.prefix,
        project=row.project,
        scopes=frozenset(Scope(s) for s in row.scopes.split(",")),
        name=row.name,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def verify_key(db: MetaDB, secret: str) -> ApiKey | None:
    """The live key with this secret, or None. The lookup is by hash; the final comparison is
    constant-time so that timing says nothing about how much of a guess was right."""
    digest = _hash(secret)
    with db.engine.connect() as conn:
        row = conn.execute(sa.select(api_keys).where(api_keys.c.key_hash == digest)).first()
    if row is None or not hmac.compare_digest(row.key_hash, digest) or row.revoked_at:
        return None
    return _row_to_key(row)


def list_keys(db: MetaDB, project: str | None = None) -> list[ApiKey]:
    query = sa.select(api_keys).order_by(api_keys.c.created_at)
    if project is not None:
        query = query.where(api_keys.c.project == project)
    with db.engine.connect() as conn:
        return [_row_to_key(r) for r in conn.execute(query)]


def revoke_key(db: MetaDB, key_id: str) -> ApiKey:
    with db.engine.begin() as conn:
        done = conn.execute(
            api_keys.update()
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
        row = conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).first()
    if row is None:
        raise NotFound(f"no key with id '{key_id}'")
    del done
    return _row_to_key(row)
