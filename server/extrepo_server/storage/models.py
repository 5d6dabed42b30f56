"""The tables, as SQLModel models. One schema for SQLite and PostgreSQL.

Repository names are compared byte-wise (keyset paging and the registry filter scan
a name range), so on PostgreSQL the column uses the "C" collation; SQLite's default
(BINARY) already compares bytes.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

NAME_TYPE = sa.String(255).with_variant(sa.String(255, collation="C"), "postgresql")


def _sqlite_utc(value: str | None) -> datetime | None:
    # SQLAlchemy stores SQLite times as "YYYY-MM-DD HH:MM:SS.ffffff" text; ours are UTC.
    # Parsing with the offset appended costs ~0.2 us; parsing naive and then calling
    # .replace(tzinfo=UTC) costs ~1.1 us, and List reads 50 times per page.
    return None if value is None else datetime.fromisoformat(value + "+00:00")


class UtcDateTime(sa.TypeDecorator):
    """An instant in UTC: `timestamptz` on PostgreSQL, ISO text on SQLite.

    Reads always give timezone-aware datetimes (SQLite's naive text is UTC by
    construction); writes refuse naive datetimes, so nothing local slips in.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime: store UTC instants only")
            value = value.astimezone(UTC)
        return value

    def result_processor(self, dialect, coltype):
        if dialect.name == "sqlite":
            return _sqlite_utc
        return super().result_processor(dialect, coltype)


UTC_TIME = UtcDateTime()


class Account(SQLModel, table=True):
    """A user or an organization; its name is a namespace."""

    __tablename__ = "account"
    # SQLite would otherwise reuse a deleted account's id for the next one: a principal
    # cached before the deletion must never name another account (migration 0002).
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=sa.Column(sa.String(39), nullable=False, unique=True))
    kind: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))  # user | organization
    # Maintained with every create and delete so that List's total_count is a lookup,
    # not a count(*) over a possibly huge namespace.
    repository_count: int = Field(default=0, nullable=False)
    created_at: datetime = Field(sa_column=sa.Column(UTC_TIME, nullable=False))


class Membership(SQLModel, table=True):
    """A user's membership of an organization, with their role in it."""

    __tablename__ = "membership"

    organization_id: int = Field(foreign_key="account.id", primary_key=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="account.id", primary_key=True, ondelete="CASCADE")
    role: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))  # owner | member


class ApiKey(SQLModel, table=True):
    """An API key of a user. Only a SHA-256 of its secret part is kept."""

    __tablename__ = "api_key"

    id: str = Field(sa_column=sa.Column(sa.String(32), primary_key=True))
    user_id: int = Field(foreign_key="account.id", index=True, ondelete="CASCADE")
    secret_sha256: bytes = Field(sa_column=sa.Column(sa.LargeBinary(32), nullable=False))
    label: str = Field(default="", sa_column=sa.Column(sa.String(200), nullable=False))
    created_at: datetime = Field(sa_column=sa.Column(UTC_TIME, nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=sa.Column(UTC_TIME, nullable=True))


class CredentialKey(SQLModel, table=True):
    """A key that credentials were encrypted with: its id and check value, never the key.

    Every repository row names the key of its credentials (a foreign key), so a write
    under a key the database does not know is refused by the database itself, and a
    server can prove at start that its keyring holds every key the rows need.
    """

    __tablename__ = "credential_key"

    id: str = Field(sa_column=sa.Column(sa.String(16), primary_key=True))
    check_value: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    created_at: datetime = Field(sa_column=sa.Column(UTC_TIME, nullable=False))


class Repository(SQLModel, table=True):
    """An external repository. Credentials are Fernet tokens, never plaintext, both
    under the one key that `key_id` names (NULL only for rows written before key ids
    were recorded, until a server adopts them at start)."""

    __tablename__ = "repository"
    __table_args__ = (
        # Serves uniqueness, Get by name, keyset paging and the registry filter's
        # name-range scan: every query on this table uses it.
        sa.UniqueConstraint("namespace_id", "name", name="uq_repository_namespace_name"),
        # Finds rows stored before key ids were recorded (a start looks for them) and
        # costs no write: a full index on key_id cost ~5 us per Create on SQLite, to
        # speed only the rare key bookkeeping (a start, `secrets prune`), which scans.
        sa.Index(
            "ix_repository_unrecorded_key",
            "key_id",
            sqlite_where=sa.text("key_id IS NULL"),
            postgresql_where=sa.text("key_id IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    namespace_id: int = Field(foreign_key="account.id", nullable=False, ondelete="CASCADE")
    name: str = Field(sa_column=sa.Column(NAME_TYPE, nullable=False))
    username_encrypted: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    password_encrypted: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    key_id: str | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.String(16),
            sa.ForeignKey("credential_key.id", name="fk_repository_key_id"),
            nullable=True,
        ),
    )
    in_use: bool = Field(default=False, nullable=False)
    created_at: datetime = Field(sa_column=sa.Column(UTC_TIME, nullable=False))
    updated_at: datetime = Field(sa_column=sa.Column(UTC_TIME, nullable=False))
    # The latest credential check (domain.ports.Verification): its state (a
    # VerificationState value), when it finished and why.
    verification_state: str = Field(
        default="pending",
        sa_column=sa.Column(sa.String(24), nullable=False, server_default="pending"),
    )
    checked_at: datetime | None = Field(default=None, sa_column=sa.Column(UTC_TIME, nullable=True))
    verification_reason: str = Field(
        default="", sa_column=sa.Column(sa.String(300), nullable=False, server_default="")
    )
    # When the background re-check is due (NULL: never, e.g. checking is off), and
    # how many checks in a row could not reach the registry (their back-off).
    next_check_at: datetime | None = Field(
        default=None, sa_column=sa.Column(UTC_TIME, nullable=True, index=True)
    )
    check_failures: int = Field(
        default=0, sa_column=sa.Column(sa.Integer, nullable=False, server_default="0")
    )


class RegistryCount(SQLModel, table=True):
    """A registry host as a namespace uses it: how many of the namespace's repositories
    live on it (for total_count; the Registry resource exists while it is above 0), and
    the latest credential check made against it for any of them."""

    __tablename__ = "registry_count"

    namespace_id: int = Field(foreign_key="account.id", primary_key=True, ondelete="CASCADE")
    host: str = Field(sa_column=sa.Column(NAME_TYPE, primary_key=True))
    repository_count: int = Field(default=0, nullable=False)
    last_check_state: str | None = Field(
        default=None, sa_column=sa.Column(sa.String(24), nullable=True)
    )
    last_checked_at: datetime | None = Field(
        default=None, sa_column=sa.Column(UTC_TIME, nullable=True)
    )
    last_check_reason: str = Field(
        default="", sa_column=sa.Column(sa.String(300), nullable=False, server_default="")
    )


class RepositoryUsage(SQLModel, table=True):
    """A consumer's use of a repository, recorded by a mesh service (UsageService).

    `repository.in_use` is kept equal to "a usage row exists" by the same writes,
    which lock the repository row first (usages.py), so that a delete, which refuses
    a row in use, never races a new usage.
    """

    __tablename__ = "repository_usage"

    repository_id: int = Field(foreign_key="repository.id", primary_key=True, ondelete="CASCADE")
    consumer: str = Field(sa_column=sa.Column(NAME_TYPE, primary_key=True))
    recorded_by: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    created_at: datetime = Field(sa_column=sa.Column(UTC_TIME, nullable=False))


class AuditAction(SQLModel, table=True):
    """One entry of the audit log (domain.audit): who did what to which object, when,
    from where, with which outcome. Never a secret. Append-only: the API has no way
    to change or delete a row; only retention removes the oldest.

    No foreign key to the namespace's account: an account's log outlives it (ids are
    never reused, so a later account never sees it). Entries of no namespace (a burst
    of failed authentication with an unknown key) have a NULL namespace_id.
    """

    __tablename__ = "audit_action"
    __table_args__ = (
        # A namespace's log, newest first, and the same by object (the usual filter).
        sa.Index("ix_audit_action_namespace", "namespace_id", "id"),
        sa.Index("ix_audit_action_object", "namespace_id", "object", "id"),
    )

    id: int | None = Field(
        default=None,
        sa_column=sa.Column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    )
    uuid: str = Field(sa_column=sa.Column(sa.String(36), nullable=False, unique=True))
    namespace_id: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, nullable=True)
    )
    namespace: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    action: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    object: str = Field(sa_column=sa.Column(sa.String(600), nullable=False))
    actor: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    actor_key_id: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    is_user_action: bool = Field(sa_column=sa.Column(sa.Boolean, nullable=False))
    rpc: str = Field(sa_column=sa.Column(sa.String(128), nullable=False))
    method: str = Field(sa_column=sa.Column(sa.String(8), nullable=False))
    fields: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    state: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    code: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    reason: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    request_id: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    detail: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    ip: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    user_agent: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    start_date: datetime = Field(sa_column=sa.Column(UTC_TIME, nullable=False, index=True))
    end_date: datetime = Field(sa_column=sa.Column(UTC_TIME, nullable=False))
