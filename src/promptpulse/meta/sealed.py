"""Channel secrets encrypted at rest (issue 17, item 6).

Alert rules, budgets, SLOs and report schedules keep their notification channels inside a JSON
spec. With `PROMPTPULSE_SECRET_KEY` set (a Fernet key), every secret field of every channel is
stored as `enc:v1:<token>`; the rest of the spec stays readable JSON. The `spec` columns are of
type `SealedSpec`, so every repository reads and writes plain JSON as before, and the key stays
with the database it was given for (`seal_with(engine, key)`, per engine: no process-wide key).

Without a key, specs are stored as before and the server says so at start. A database holding
sealed secrets refuses to open them without the key, instead of sending notifications to
`enc:v1:...`."""

from __future__ import annotations

import weakref
from typing import Any

import orjson
import sqlalchemy as sa

from promptpulse.errors import StoreUnavailable
from promptpulse.model import CHANNEL_SECRET_FIELDS

SEALED = "enc:v1:"


class SecretBox:
    """Seals and opens the channel secrets of a JSON spec. `keys`: the current key first, then
    older ones still accepted for reading (rotation: see docs/security.md)."""

    def __init__(self, keys: list[str]) -> None:
        self.fernet: Any = None
        self.invalid: type[Exception] = Exception  # never raised without a key
        if keys:
            # Imported only with a key: cryptography costs the idle server ~6 MB, and most
            # servers run without PROMPTPULSE_SECRET_KEY.
            from cryptography.fernet import Fernet, InvalidToken, MultiFernet

            self.fernet = MultiFernet([Fernet(k.encode()) for k in keys])
            self.invalid = InvalidToken
        self.rotating = len(keys) > 1

    def reseal(self, spec: str) -> str:
        """Plain secrets sealed; with an old key listed, sealed ones re-encrypted with the
        current key."""
        if self.fernet is None:
            return spec
        return self._each_secret(spec, self._reseal_value)

    def _reseal_value(self, value: Any) -> Any:
        if isinstance(value, str) and value.startswith(SEALED):
            if not self.rotating:
                return value
            assert self.fernet is not None
            try:
                token = self.fernet.rotate(value[len(SEALED) :].encode())
            except self.invalid:
                raise StoreUnavailable(
                    "a channel secret cannot be decrypted with any configured key"
                ) from None
            return SEALED + token.decode()
        return self._seal_value(value)

    def seal(self, spec: str) -> str:
        if self.fernet is None:
            return spec
        return self._each_secret(spec, self._seal_value)

    def open(self, spec: str) -> str:
        if SEALED not in spec:
            return spec
        return self._each_secret(spec, self._open_value)

    def _seal_value(self, value: Any) -> Any:
        if isinstance(value, str) and value.startswith(SEALED):
            return value
        assert self.fernet is not None
        return SEALED + self.fernet.encrypt(orjson.dumps(value)).decode()

    def _open_value(self, value: Any) -> Any:
        if not (isinstance(value, str) and value.startswith(SEALED)):
            return value
        if self.fernet is None:
            raise StoreUnavailable(
                "channel secrets in the metadata database are encrypted: set "
                "PROMPTPULSE_SECRET_KEY to the key they were encrypted with"
            )
        try:
            return orjson.loads(self.fernet.decrypt(value[len(SEALED) :].encode()))
        except self.invalid:
            raise StoreUnavailable(
                "a channel secret cannot be decrypted with PROMPTPULSE_SECRET_KEY "
                "(a rotated key? list the old one in PROMPTPULSE_SECRET_KEY_OLD)"
            ) from None

    @staticmethod
    def _each_secret(spec: str, change: Any) -> str:
        try:
            body = orjson.loads(spec)
        except orjson.JSONDecodeError:
            return spec
        channels = body.get("channels") if isinstance(body, dict) else None
        if not isinstance(channels, list):
            return spec
        channels = list(channels)
        for step in body.get("escalation") or ():  # a rule's escalation steps have channels too
            if isinstance(step, dict) and isinstance(step.get("channels"), list):
                channels.extend(step["channels"])
        for channel in channels:
            if isinstance(channel, dict):
                for name in CHANNEL_SECRET_FIELDS:
                    if channel.get(name) is not None:
                        channel[name] = change(channel[name])
        return orjson.dumps(body).decode()


_BOXES: weakref.WeakKeyDictionary[Any, SecretBox] = weakref.WeakKeyDictionary()
_NO_KEY = SecretBox([])


def seal_with(engine: sa.Engine, keys: list[str]) -> SecretBox:
    """From now on, specs written through `engine` are sealed with keys[0]."""
    box = SecretBox(keys)
    _BOXES[engine.dialect] = box
    return box


class SealedSpec(sa.TypeDecorator[str]):
    """TEXT in the database; channel secrets sealed on the way in, opened on the way out."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: sa.Dialect) -> str | None:
        return None if value is None else _BOXES.get(dialect, _NO_KEY).seal(value)

    def process_result_value(self, value: str | None, dialect: sa.Dialect) -> str | None:
        return None if value is None else _BOXES.get(dialect, _NO_KEY).open(value)


def seal_existing(engine: sa.Engine, tables: list[sa.Table]) -> int:
    """Seal every spec still holding plain secrets (a key set on an existing database, or a new
    key after rotation); idempotent. Returns how many rows were rewritten."""
    box = _BOXES.get(engine.dialect)
    if box is None or box.fernet is None:
        return 0
    changed = 0
    with engine.begin() as conn:
        for table in tables:
            raw = sa.select(table.c.id, sa.type_coerce(table.c.spec, sa.Text).label("spec"))
            for row in conn.execute(raw).all():
                sealed = box.reseal(row.spec)
                if orjson.loads(sealed) != orjson.loads(row.spec):
                    conn.execute(
                        table.update()
                        .where(table.c.id == row.id)
                        .values(spec=sa.type_coerce(sealed, sa.Text))
                    )
                    changed += 1
    return changed
