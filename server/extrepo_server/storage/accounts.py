"""SQL for accounts (users and organizations), memberships and API keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from ..domain.access import OrganizationAccess, Role
from ..domain.errors import AlreadyExists, FailedPrecondition, NotFound
from ..domain.ports import KeyOwner
from .connections import read_retrying_once, transaction
from .errors import duplicate_key_as
from .models import Account, ApiKey, Membership

_account = Account.__table__
_membership = Membership.__table__
_api_key = ApiKey.__table__

USER = "user"
ORGANIZATION = "organization"


@dataclass(frozen=True)
class KeyInfo:
    id: str
    label: str
    created_at: datetime
    revoked_at: datetime | None


class AccountStore:
    """Accounts for the admin command, and for authentication (domain.ports.AccountDirectory)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def _begin(self):
        return transaction(self._engine)

    def _read(self, read):
        return read_retrying_once(self._engine, read)

    # -- accounts ------------------------------------------------------------

    def create_account(self, name: str, kind: str) -> int:
        with (
            duplicate_key_as(
                self._engine, lambda: AlreadyExists(f"the name '{name}' is already taken")
            ),
            self._begin() as conn,
        ):
            return conn.execute(
                _account.insert()
                .values(name=name, kind=kind, repository_count=0, created_at=datetime.now(UTC))
                .returning(_account.c.id)
            ).scalar_one()

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

    def set_membership(self, organization_id: int, user_id: int, role: Role) -> None:
        with self._begin() as conn:
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

    def remove_membership(self, organization_id: int, user_id: int) -> None:
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

    def add_key(self, key_id: str, user_id: int, secret_sha256: bytes, label: str) -> None:
        with self._begin() as conn:
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

    def revoke_key(self, key_id: str) -> None:
        with self._begin() as conn:
            revoked = conn.execute(
                _api_key.update()
                .where(_api_key.c.id == key_id, _api_key.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            ).rowcount
        if not revoked:
            raise NotFound(f"there is no active API key with id '{key_id}'")
