"""Credential keys: the ids and check values of the keys that credentials need, and
each repository row's key id (a foreign key), so that no stored credential can be
orphaned by a lost or wrong key unnoticed.

Rows that exist before this migration get no key id (NULL): the migration holds no
key. The first server to start with the keys adopts them (keys.py): it finds the key
that opens each row and records it, or refuses to start.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "credential_key",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("check_value", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    # SQLite cannot add a foreign key to a table in place: batch mode copies the table
    # (once, inside the migration's transaction; see schema.py).
    with op.batch_alter_table("repository") as batch:
        batch.add_column(sa.Column("key_id", sa.String(length=16), nullable=True))
        batch.create_foreign_key("fk_repository_key_id", "credential_key", ["key_id"], ["id"])
    # Partial: only rows without a key id (all of them now, none once adopted).
    op.create_index(
        "ix_repository_unrecorded_key",
        "repository",
        ["key_id"],
        sqlite_where=sa.text("key_id IS NULL"),
        postgresql_where=sa.text("key_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_repository_unrecorded_key", table_name="repository")
    with op.batch_alter_table("repository") as batch:
        batch.drop_constraint("fk_repository_key_id", type_="foreignkey")
        batch.drop_column("key_id")
    op.drop_table("credential_key")
