"""SQL for external repositories, in SQLAlchemy Core.

The ORM's Session costs roughly twice as much per statement as Core on this hot path
(Get is one indexed lookup), so the SQLModel tables define the schema and Core runs
the statements. Every read uses the unique (namespace_id, name) index.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlalchemy.exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite

from ..domain.errors import AlreadyExists, NotFound
from .errors import is_unique_violation, translate_unavailable
from .models import Account, RegistryCount, Repository

_repo = Repository.__table__
_account = Account.__table__
_registry_count = RegistryCount.__table__

_PUBLIC_COLUMNS = (_repo.c.name, _repo.c.in_use, _repo.c.created_at, _repo.c.updated_at)


@dataclass(frozen=True)
class RepositoryRow:
    """What storage tells about a repository: never its credentials."""

    name: str
    in_use: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class EncryptedCredentials:
    username: str
    password: str


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything we store is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _row(row: sa.Row) -> RepositoryRow:
    return RepositoryRow(row.name, bool(row.in_use), _utc(row.created_at), _utc(row.updated_at))


def _host_range(host: str) -> tuple[str, str]:
    # Names on `host` are exactly those in [host + "/", host + "0"): "0" is the
    # character right after "/", and names compare byte-wise (see models).
    return host + "/", host + "0"


class RepositoryStore:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name

    # -- reads ---------------------------------------------------------------

    def get(self, namespace_id: int, name: str) -> RepositoryRow:
        stmt = sa.select(*_PUBLIC_COLUMNS).where(
            _repo.c.namespace_id == namespace_id, _repo.c.name == name
        )
        with self._connect() as conn:
            row = conn.execute(stmt).first()
        if row is None:
            raise NotFound(f"repository '{name}' not found")
        return _row(row)

    def credentials(self, namespace_id: int, name: str) -> EncryptedCredentials:
        stmt = sa.select(_repo.c.username_encrypted, _repo.c.password_encrypted).where(
            _repo.c.namespace_id == namespace_id, _repo.c.name == name
        )
        with self._connect() as conn:
            row = conn.execute(stmt).first()
        if row is None:
            raise NotFound(f"repository '{name}' not found")
        return EncryptedCredentials(row.username_encrypted, row.password_encrypted)

    def count(self, namespace_id: int, host: str | None = None) -> int:
        if host is None:
            stmt = sa.select(_account.c.repository_count).where(_account.c.id == namespace_id)
        else:
            stmt = sa.select(_registry_count.c.repository_count).where(
                _registry_count.c.namespace_id == namespace_id, _registry_count.c.host == host
            )
        with self._connect() as conn:
            return conn.execute(stmt).scalar() or 0

    def exists(self, namespace_id: int, name: str) -> bool:
        stmt = sa.select(sa.literal(1)).where(
            _repo.c.namespace_id == namespace_id, _repo.c.name == name
        )
        with self._connect() as conn:
            return conn.execute(stmt).first() is not None

    def page(
        self,
        namespace_id: int,
        *,
        limit: int,
        host: str | None = None,
        name: str | None = None,
        after: str | None = None,
        before: str | None = None,
        skip: int = 0,
    ) -> list[RepositoryRow]:
        """A page in name order: after a name, before a name, or after skipping rows."""
        conditions = [_repo.c.namespace_id == namespace_id]
        if name is not None:
            conditions.append(_repo.c.name == name)
        if host is not None:
            low, high = _host_range(host)
            conditions += [_repo.c.name >= low, _repo.c.name < high]
        if after is not None:
            conditions.append(_repo.c.name > after)
        if before is not None:
            conditions.append(_repo.c.name < before)
        order = _repo.c.name.desc() if before is not None else _repo.c.name.asc()
        stmt = sa.select(*_PUBLIC_COLUMNS).where(*conditions).order_by(order).limit(limit)
        if skip:
            stmt = stmt.offset(skip)
        with self._connect() as conn:
            rows = [_row(r) for r in conn.execute(stmt)]
        if before is not None:
            rows.reverse()
        return rows

    # -- writes --------------------------------------------------------------

    def create(
        self, namespace_id: int, name: str, host: str, credentials: EncryptedCredentials
    ) -> RepositoryRow:
        now = datetime.now(UTC)
        try:
            with self._begin() as conn:
                conn.execute(
                    _repo.insert().values(
                        namespace_id=namespace_id,
                        name=name,
                        username_encrypted=credentials.username,
                        password_encrypted=credentials.password,
                        in_use=False,
                        created_at=now,
                        updated_at=now,
                    )
                )
                self._adjust_counts(conn, namespace_id, host, +1)
        except sa_exc.IntegrityError as exc:
            # The database enforces uniqueness; no read-then-write race is possible.
            if is_unique_violation(exc):
                raise AlreadyExists(
                    f"repository '{name}' is already registered in this namespace"
                ) from None
            raise
        return RepositoryRow(name, False, now, now)

    def update_credentials(
        self, namespace_id: int, name: str, *, username: str | None, password: str | None
    ) -> RepositoryRow:
        """Set the sent credential fields only; a field not sent keeps its value."""
        values: dict[str, object] = {"updated_at": datetime.now(UTC)}
        if username is not None:
            values["username_encrypted"] = username
        if password is not None:
            values["password_encrypted"] = password
        stmt = (
            _repo.update()
            .where(_repo.c.namespace_id == namespace_id, _repo.c.name == name)
            .values(**values)
            .returning(*_PUBLIC_COLUMNS)
        )
        with self._begin() as conn:
            row = conn.execute(stmt).first()
        if row is None:
            raise NotFound(f"repository '{name}' not found")
        return _row(row)

    def delete(self, namespace_id: int, name: str, host: str) -> None:
        stmt = _repo.delete().where(_repo.c.namespace_id == namespace_id, _repo.c.name == name)
        with self._begin() as conn:
            if conn.execute(stmt).rowcount == 0:
                raise NotFound(f"repository '{name}' not found")
            self._adjust_counts(conn, namespace_id, host, -1)

    def all_credentials(self) -> Sequence[tuple[int, EncryptedCredentials]]:
        """Every row's encrypted credentials (for re-encryption under a new key)."""
        stmt = sa.select(_repo.c.id, _repo.c.username_encrypted, _repo.c.password_encrypted)
        with self._connect() as conn:
            return [
                (r.id, EncryptedCredentials(r.username_encrypted, r.password_encrypted))
                for r in conn.execute(stmt)
            ]

    def replace_credentials(self, rows: Sequence[tuple[int, EncryptedCredentials]]) -> None:
        stmt = (
            _repo.update()
            .where(_repo.c.id == sa.bindparam("row_id"))
            .values(
                username_encrypted=sa.bindparam("u"),
                password_encrypted=sa.bindparam("p"),
            )
        )
        with self._begin() as conn:
            if rows:
                conn.execute(
                    stmt,
                    [{"row_id": i, "u": c.username, "p": c.password} for i, c in rows],
                )

    # -- helpers -------------------------------------------------------------

    def _adjust_counts(self, conn: sa.Connection, namespace_id: int, host: str, delta: int) -> None:
        conn.execute(
            _account.update()
            .where(_account.c.id == namespace_id)
            .values(repository_count=_account.c.repository_count + delta)
        )
        insert = (postgresql if self._dialect == "postgresql" else sqlite).insert(_registry_count)
        conn.execute(
            insert.values(
                namespace_id=namespace_id, host=host, repository_count=delta
            ).on_conflict_do_update(
                index_elements=["namespace_id", "host"],
                set_={"repository_count": _registry_count.c.repository_count + delta},
            )
        )

    @contextmanager
    def _connect(self) -> Iterator[sa.Connection]:
        with translate_unavailable(), self._engine.connect() as conn:
            yield conn

    @contextmanager
    def _begin(self) -> Iterator[sa.Connection]:
        with translate_unavailable(), self._engine.begin() as conn:
            yield conn
