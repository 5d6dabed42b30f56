"""Account ids are never reused on SQLite (AUTOINCREMENT), as on PostgreSQL.

SQLite otherwise gives a new row the largest id + 1, so the id of the newest account,
once deleted, went to the next account made. A server that still held the deleted
account's principal in its authentication cache (EXTREPO_AUTH_CACHE_SECONDS) would
then have acted on the new account's namespace under the old one's name.
PostgreSQL's sequence never hands an id out twice: nothing to do there.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _rebuild_account(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    # A copy of the table with the new option; the rows keep their ids, and SQLite's
    # sqlite_sequence starts above the largest of them.
    with op.batch_alter_table(
        "account", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
    ):
        pass


def upgrade() -> None:
    _rebuild_account(True)


def downgrade() -> None:
    _rebuild_account(False)
