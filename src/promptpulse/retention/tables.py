"""Per-project retention overrides in the metadata database (SQLAlchemy Core)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

policies = sa.Table(
    "retention_policies",
    metadata,
    sa.Column("project", sa.String(100), primary_key=True),
    sa.Column("raw_days", sa.Integer, nullable=True),  # NULL: the server default
    sa.Column("hourly_days", sa.Integer, nullable=True),
    sa.Column("daily_days", sa.Integer, nullable=True),
)
