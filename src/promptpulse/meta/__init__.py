"""Metadata: API keys and price overrides (later rules, budgets), in SQLite or PostgreSQL.

Kept apart from the DuckDB file so that the CLI can change it while the server runs.
"""

from promptpulse.meta.db import MetaDB
from promptpulse.meta.keys import ApiKey, Scope, create_key, list_keys, revoke_key, verify_key
from promptpulse.meta.prices import delete_price, get_override, list_prices, set_price

__all__ = [
    "ApiKey",
    "MetaDB",
    "Scope",
    "create_key",
    "delete_price",
    "get_override",
    "list_keys",
    "list_prices",
    "revoke_key",
    "set_price",
    "verify_key",
]
