"""Credential checks: each repository's latest verification against its registry and
when the next background check is due; each (namespace, registry host)'s latest check.

Rows that exist before this migration are `pending` with a check due at once: the
first server to run the background re-check verifies them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("repository") as batch:
        batch.add_column(
            sa.Column(
                "verification_state",
                sa.String(length=24),
                nullable=False,
                server_default="pending",
            )
        )
        batch.add_column(sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column(
                "verification_reason", sa.String(length=300), nullable=False, server_default=""
            )
        )
        batch.add_column(sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("check_failures", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_index("ix_repository_next_check_at", "repository", ["next_check_at"])
    # Existing rows were never checked: due now.
    op.execute(sa.text("UPDATE repository SET next_check_at = created_at"))
    with op.batch_alter_table("registry_count") as batch:
        batch.add_column(sa.Column("last_check_state", sa.String(length=24), nullable=True))
        batch.add_column(sa.Column("last_checked_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("last_check_reason", sa.String(length=300), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("registry_count") as batch:
        batch.drop_column("last_check_reason")
        batch.drop_column("last_checked_at")
        batch.drop_column("last_check_state")
    op.drop_index("ix_repository_next_check_at", table_name="repository")
    with op.batch_alter_table("repository") as batch:
        batch.drop_column("check_failures")
        batch.drop_column("next_check_at")
        batch.drop_column("verification_reason")
        batch.drop_column("checked_at")
        batch.drop_column("verification_state")
