"""The initial schema: accounts, memberships, API keys, repositories and counters.

This is also the schema that `create_all` made before migrations existed: such a
database is stamped with this revision, not migrated (see schema.py).

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Names compare byte-wise: PostgreSQL's "C" collation; SQLite's BINARY already does.
NAME_TYPE = sa.String(length=255).with_variant(sa.String(length=255, collation="C"), "postgresql")
UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=39), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("repository_count", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "api_key",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("secret_sha256", sa.LargeBinary(length=32), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("revoked_at", UTC_TIME, nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_api_key_user_id", "api_key", ["user_id"], unique=False)
    op.create_table(
        "membership",
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["account.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("organization_id", "user_id"),
    )
    op.create_table(
        "registry_count",
        sa.Column("namespace_id", sa.Integer(), nullable=False),
        sa.Column("host", NAME_TYPE, nullable=False),
        sa.Column("repository_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["namespace_id"], ["account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("namespace_id", "host"),
    )
    op.create_table(
        "repository",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("namespace_id", sa.Integer(), nullable=False),
        sa.Column("name", NAME_TYPE, nullable=False),
        sa.Column("username_encrypted", sa.Text(), nullable=False),
        sa.Column("password_encrypted", sa.Text(), nullable=False),
        sa.Column("in_use", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(["namespace_id"], ["account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("namespace_id", "name", name="uq_repository_namespace_name"),
    )


def downgrade() -> None:
    op.drop_table("repository")
    op.drop_table("registry_count")
    op.drop_table("membership")
    op.drop_index("ix_api_key_user_id", table_name="api_key")
    op.drop_table("api_key")
    op.drop_table("account")
