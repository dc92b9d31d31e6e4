"""Ids typed back by hand: the whole id, or any unique start of it (`keys revoke 3f2a`)."""

from __future__ import annotations

from collections.abc import Iterable

from promptpulse.errors import Invalid, NotFound


def resolve(typed: str, ids: Iterable[str], what: str) -> str:
    """The one id that is `typed` or starts with it; NotFound for none, Invalid (listing them)
    when several start with it."""
    ids = list(ids)
    if typed in ids:
        return typed
    matches = sorted(i for i in ids if typed and i.startswith(typed))
    if not matches:
        raise NotFound(f"no {what} with id '{typed}' (or an id starting with it)")
    if len(matches) > 1:
        raise Invalid(
            f"'{typed}' is the start of {len(matches)} {what} ids: {', '.join(matches)}; "
            "give more of the id"
        )
    return matches[0]
