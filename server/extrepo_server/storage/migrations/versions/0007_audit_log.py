"""The audit log: table audit_action. Pull hand-outs, recorded until now in
pull_handout, become entries of it (action `Pull Access`), and pull_handout goes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    audit = op.create_table(
        "audit_action",
        sa.Column("id", _ID, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("namespace_id", sa.BigInteger(), nullable=True),
        sa.Column("namespace", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("object", sa.String(length=600), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("actor_key_id", sa.String(length=64), nullable=False),
        sa.Column("is_user_action", sa.Boolean(), nullable=False),
        sa.Column("rpc", sa.String(length=128), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("fields", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.String(length=255), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=255), nullable=False),
        sa.Column("start_date", _TIME, nullable=False),
        sa.Column("end_date", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uuid"),
    )
    op.create_index("ix_audit_action_namespace", "audit_action", ["namespace_id", "id"])
    op.create_index("ix_audit_action_object", "audit_action", ["namespace_id", "object", "id"])
    op.create_index("ix_audit_action_start_date", "audit_action", ["start_date"])

    # Earlier hand-outs, oldest first, as the entries they would have been.
    bind = op.get_bind()
    handouts = bind.execute(
        sa.text(
            "SELECT h.namespace_id, a.name, h.repository, h.identity, h.kind, h.created_at "
            "FROM pull_handout h JOIN account a ON a.id = h.namespace_id ORDER BY h.id"
        )
    ).all()
    rows = [
        {
            "uuid": str(uuid.uuid4()),
            "namespace_id": namespace_id,
            "namespace": namespace,
            "action": "Pull Access",
            "object": f"/api/repo/v1/{namespace}/repository/{repository}/",
            "actor": identity,
            "actor_key_id": "",
            "is_user_action": False,
            "rpc": "/extrepo.v1.PullAccessService/GetPullAccess",
            "method": "",
            "fields": "",
            "state": "Success",
            "code": "OK",
            "reason": kind.upper(),
            "request_id": "",
            "detail": "",
            "ip": "",
            "user_agent": "",
            "start_date": created_at,
            "end_date": created_at,
        }
        for namespace_id, namespace, repository, identity, kind, created_at in handouts
    ]
    if rows:
        op.bulk_insert(audit, rows)
    op.drop_table("pull_handout")


def downgrade() -> None:
    op.create_table(
        "pull_handout",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("namespace_id", sa.Integer(), nullable=False),
        sa.Column(
            "repository",
            sa.String(255).with_variant(sa.String(255, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("identity", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(["namespace_id"], ["account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.drop_table("audit_action")
