"""SQL for accounts (users and organizations), memberships and API keys.

Deleting an account deletes what belongs to it in the same transaction, by the
foreign keys' ON DELETE CASCADE: its API keys, its memberships, its repositories
(with their encrypted credentials) and its counters. Calls racing the deletion meet
either the account whole or nothing of it (see delete_account on locking).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from ..domain.access import OrganizationAccess, Role
from ..domain.audit import AuditEntry
from ..domain.errors import AlreadyExists, FailedPrecondition, NotFound, Unavailable
from ..domain.ports import KeyOwner
from .audit import record_on
from .connections import read_retrying_once, transaction
from .errors import duplicate_key_as, is_lock_conflict, missing_account_as
from .models import Account, ApiKey, Membership, Repository

_account = Account.__table__
_membership = Membership.__table__
_api_key = ApiKey.__table__
_repository = Repository.__table__

USER = "user"
ORGANIZATION = "organization"

# How long deleting an account waits for one lock, and how often it tries (PostgreSQL).
_LOCK_TIMEOUT = "200ms"
_DELETE_ATTEMPTS = 50


@dataclass(frozen=True)
class KeyInfo:
    id: str
    label: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class DeletedAccount:
    """What went with a deleted account."""

    repositories: int
    keys: int
    memberships: int
    account_id: int = 0  # the deleted account's id (its audit log keeps it)


def _gone() -> NotFound:
    return NotFound("that account was deleted meanwhile")


class AccountStore:
    """Accounts for the admin command, and for authentication (domain.ports.AccountDirectory)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def _begin(self):
        return transaction(self._engine)

    def _read(self, read):
        return read_retrying_once(self._engine, read)

    # -- accounts ------------------------------------------------------------

    def create_account(
        self,
        name: str,
        kind: str,
        *,
        owner_id: int | None = None,
        audit: AuditEntry | None = None,
    ) -> int:
        """A new account; an organization gets its first owner in the same transaction,
        as does `audit` (its namespace's id completed with the new account's)."""
        with (
            duplicate_key_as(
                self._engine, lambda: AlreadyExists(f"the name '{name}' is already taken")
            ),
            missing_account_as(self._engine, _gone),
            self._begin() as conn,
        ):
            account_id = conn.execute(
                _account.insert()
                .values(name=name, kind=kind, repository_count=0, created_at=datetime.now(UTC))
                .returning(_account.c.id)
            ).scalar_one()
            if owner_id is not None:
                conn.execute(
                    _membership.insert().values(
                        organization_id=account_id, user_id=owner_id, role=Role.OWNER.value
                    )
                )
            if audit is not None:
                record_on(conn, audit, namespace_id=account_id)
            return account_id

    def delete_account(
        self, name: str, kind: str, *, force: bool, audit: AuditEntry | None = None
    ) -> DeletedAccount:
        """Delete a user or an organization and everything that belongs to it.

        Refused (FailedPrecondition) while it holds repositories, unless `force`, and
        for a user who is the last owner of an organization, whatever `force` says:
        that organization would be left with nobody to manage it.

        Locks (PostgreSQL) are taken in the order the API's writes take them: first
        the namespace's repository rows (Update and Delete lock one), then the
        account row (Create and Delete then update its counter; a Create's
        foreign-key check waits on it, then fails: NamespaceGone). A Create that
        commits between the two can still be deleted by a call that then waits on
        the account: a lock cycle. So this transaction waits for a lock at most
        _LOCK_TIMEOUT, well before PostgreSQL's deadlock check (1 s) would pick a
        victim, and is tried again: the admin command waits, never an API call.
        SQLite has one write lock for the whole database, taken by the first statement.
        """
        for attempt in range(1, _DELETE_ATTEMPTS + 1):
            try:
                with self._begin() as conn:
                    deleted = self._delete_account(conn, name, kind, force=force)
                    if audit is not None:
                        record_on(conn, audit, namespace_id=deleted.account_id)
                    return deleted
            except Unavailable as exc:
                if attempt == _DELETE_ATTEMPTS or not is_lock_conflict(exc.__cause__):
                    raise
        raise AssertionError("unreachable")

    def _delete_account(
        self, conn: sa.Connection, name: str, kind: str, *, force: bool
    ) -> DeletedAccount:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{_LOCK_TIMEOUT}'")
        else:  # SQLite: the database's write lock, before anything is read
            conn.execute(
                _account.update()
                .where(_account.c.name == name)
                .values(repository_count=_account.c.repository_count)
            )
        account_id = conn.execute(
            sa.select(_account.c.id).where(_account.c.name == name, _account.c.kind == kind)
        ).scalar()
        if account_id is not None:
            conn.execute(
                sa.select(_repository.c.id)
                .where(_repository.c.namespace_id == account_id)
                .with_for_update()
            ).all()
            account_id = conn.execute(
                sa.select(_account.c.id).where(_account.c.id == account_id).with_for_update()
            ).scalar()
        if account_id is None:
            raise NotFound(f"there is no {kind} named '{name}'")

        def count(column: sa.Column) -> int:
            return conn.execute(sa.select(sa.func.count()).where(column == account_id)).scalar_one()

        repositories = count(_repository.c.namespace_id)
        if repositories and not force:
            raise FailedPrecondition(
                f"{kind} '{name}' has {repositories} repositories (their registry "
                "credentials would be deleted with them); delete them first, or run "
                "again with --force to delete them too"
            )
        if kind == USER:
            self._refuse_last_owner(conn, name, account_id)
        deleted = DeletedAccount(
            repositories=repositories,
            keys=count(_api_key.c.user_id),
            memberships=count(
                _membership.c.user_id if kind == USER else _membership.c.organization_id
            ),
            account_id=account_id,
        )
        conn.execute(_account.delete().where(_account.c.id == account_id))
        return deleted

    @staticmethod
    def _refuse_last_owner(conn: sa.Connection, name: str, user_id: int) -> None:
        owners = _membership.alias("owners")
        sole = conn.execute(
            sa.select(_account.c.name)
            .join(_membership, _membership.c.organization_id == _account.c.id)
            .where(_membership.c.user_id == user_id, _membership.c.role == Role.OWNER.value)
            .where(
                ~sa.exists().where(
                    owners.c.organization_id == _membership.c.organization_id,
                    owners.c.role == Role.OWNER.value,
                    owners.c.user_id != user_id,
                )
            )
            .order_by(_account.c.name)
        ).scalars()
        organizations = list(sole)
        if organizations:
            first = organizations[0]
            raise FailedPrecondition(
                f"user '{name}' is the last owner of organization "
                f"{', '.join(repr(o) for o in organizations)}; first make another member an "
                f"owner (admin org add-member {first} USER --role owner) or delete it "
                f"(admin org delete {first})"
            )

    def account_id(self, name: str, kind: str) -> int:
        row = self._read(
            lambda conn: conn.execute(
                sa.select(_account.c.id, _account.c.kind).where(_account.c.name == name)
            ).first()
        )
        if row is None or row.kind != kind:
            raise NotFound(f"there is no {kind} named '{name}'")
        return row.id

    def namespace_id(self, name: str) -> int:
        account_id = self._read(
            lambda conn: conn.execute(
                sa.select(_account.c.id).where(_account.c.name == name)
            ).scalar()
        )
        if account_id is None:
            raise NotFound(f"there is no namespace named '{name}'")
        return account_id

    def list_accounts(self) -> list[tuple[str, str, int]]:
        with self._begin() as conn:
            rows = conn.execute(
                sa.select(_account.c.name, _account.c.kind, _account.c.repository_count).order_by(
                    _account.c.name
                )
            )
            return [(r.name, r.kind, r.repository_count) for r in rows]

    # -- memberships ---------------------------------------------------------

    def set_membership(
        self, organization_id: int, user_id: int, role: Role, audit: AuditEntry | None = None
    ) -> None:
        with missing_account_as(self._engine, _gone), self._begin() as conn:
            if audit is not None:
                record_on(conn, audit, namespace_id=organization_id)
            updated = conn.execute(
                _membership.update()
                .where(
                    _membership.c.organization_id == organization_id,
                    _membership.c.user_id == user_id,
                )
                .values(role=role.value)
            ).rowcount
            if not updated:
                conn.execute(
                    _membership.insert().values(
                        organization_id=organization_id, user_id=user_id, role=role.value
                    )
                )

    def remove_membership(
        self, organization_id: int, user_id: int, audit: AuditEntry | None = None
    ) -> None:
        with self._begin() as conn:
            owners = conn.execute(
                sa.select(_membership.c.user_id).where(
                    _membership.c.organization_id == organization_id,
                    _membership.c.role == Role.OWNER.value,
                )
            ).scalars()
            if list(owners) == [user_id]:
                raise FailedPrecondition(
                    "this user is the organization's last owner; add another owner first"
                )
            deleted = conn.execute(
                _membership.delete().where(
                    _membership.c.organization_id == organization_id,
                    _membership.c.user_id == user_id,
                )
            ).rowcount
            if deleted and audit is not None:
                record_on(conn, audit, namespace_id=organization_id)
        if not deleted:
            raise NotFound("that user is not a member of the organization")

    def organizations_of(self, user_id: int) -> dict[str, OrganizationAccess]:
        stmt = (
            sa.select(_account.c.name, _membership.c.organization_id, _membership.c.role)
            .join(_account, _account.c.id == _membership.c.organization_id)
            .where(_membership.c.user_id == user_id)
        )
        return self._read(
            lambda conn: {
                r.name: OrganizationAccess(r.organization_id, Role(r.role))
                for r in conn.execute(stmt)
            }
        )

    # -- API keys ------------------------------------------------------------

    def add_key(
        self,
        key_id: str,
        user_id: int,
        secret_sha256: bytes,
        label: str,
        audit: AuditEntry | None = None,
    ) -> None:
        with missing_account_as(self._engine, _gone), self._begin() as conn:
            if audit is not None:
                record_on(conn, audit, namespace_id=user_id)
            conn.execute(
                _api_key.insert().values(
                    id=key_id,
                    user_id=user_id,
                    secret_sha256=secret_sha256,
                    label=label,
                    created_at=datetime.now(UTC),
                )
            )

    def key_owner(self, key_id: str) -> KeyOwner | None:
        """The owner of an unrevoked key, or None."""
        stmt = (
            sa.select(_api_key.c.secret_sha256, _account.c.id, _account.c.name)
            .join(_account, _account.c.id == _api_key.c.user_id)
            .where(_api_key.c.id == key_id, _api_key.c.revoked_at.is_(None))
        )
        row = self._read(lambda conn: conn.execute(stmt).first())
        return None if row is None else KeyOwner(bytes(row.secret_sha256), row.id, row.name)

    def list_keys(self, user_id: int) -> list[KeyInfo]:
        stmt = (
            sa.select(_api_key.c.id, _api_key.c.label, _api_key.c.created_at, _api_key.c.revoked_at)
            .where(_api_key.c.user_id == user_id)
            .order_by(_api_key.c.created_at)
        )
        with self._begin() as conn:
            return [KeyInfo(r.id, r.label, r.created_at, r.revoked_at) for r in conn.execute(stmt)]

    def revoke_key(
        self, key_id: str, audit: Callable[[str, int], AuditEntry] | None = None
    ) -> None:
        """Revoke an active key; `audit(owner name, owner id)` makes its entry, written
        in the same transaction."""
        with self._begin() as conn:
            owner = conn.execute(
                _api_key.update()
                .where(_api_key.c.id == key_id, _api_key.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
                .returning(_api_key.c.user_id)
            ).first()
            if owner is not None and audit is not None:
                owner_name = conn.execute(
                    sa.select(_account.c.name).where(_account.c.id == owner.user_id)
                ).scalar_one()
                record_on(conn, audit(owner_name, owner.user_id))
        if owner is None:
            raise NotFound(f"there is no active API key with id '{key_id}'")
