"""The API's store of external repositories (domain.ports.RepositoryStore), in
SQLAlchemy Core.

The ORM's Session costs roughly twice as much per statement as Core on this hot path
(Get is one indexed lookup), so the SQLModel tables define the schema and Core runs
the statements, compiled once (statements.py). Every read uses the unique
(namespace_id, name) index. Credentials are written here but never read: the
administration's re-encryption has its own store (reencryption.py).
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ..domain.access import NamespaceGrant
from ..domain.errors import AlreadyExists, NamespaceGone, NotFound
from ..domain.paging import Window
from ..domain.ports import EncryptedCredentials, Repository
from . import models
from .connections import Reader, write
from .errors import duplicate_key_as, missing_account_as
from .statements import PreparedStatement

_repo = models.Repository.__table__
_account = models.Account.__table__
_registry_count = models.RegistryCount.__table__

# What a Repository record is made of, in its field order after `namespace`.
_RECORD_COLUMNS = (_repo.c.name, _repo.c.in_use, _repo.c.created_at, _repo.c.updated_at)
_INSERTED_COLUMNS = (
    "namespace_id",
    "name",
    "username_encrypted",
    "password_encrypted",
    "in_use",
    "created_at",
    "updated_at",
)


def _record(namespace: str, row: tuple) -> Repository:
    name, in_use, created_at, updated_at = row
    return Repository(namespace, name, in_use, created_at, updated_at)


def _not_found(name: str) -> NotFound:
    return NotFound(f"repository '{name}' not found")


def _host_range(host: str) -> tuple[str, str]:
    # Names on `host` are exactly those in [host + "/", host + "0"): "0" is the
    # character right after "/", and names compare byte-wise (see models).
    return host + "/", host + "0"


def _page_statement(*, by_name: bool, by_host: bool, edge: str | None, skip: bool) -> sa.Select:
    """The SELECT of one kind of page; every value is a bound parameter."""
    conditions = [_repo.c.namespace_id == sa.bindparam("namespace_id")]
    if by_name:
        conditions.append(_repo.c.name == sa.bindparam("name"))
    if by_host:
        conditions += [_repo.c.name >= sa.bindparam("low"), _repo.c.name < sa.bindparam("high")]
    if edge == "after":
        conditions.append(_repo.c.name > sa.bindparam("edge"))
    elif edge == "before":
        conditions.append(_repo.c.name < sa.bindparam("edge"))
    order = _repo.c.name.desc() if edge == "before" else _repo.c.name.asc()
    statement = (
        sa.select(*_RECORD_COLUMNS)
        .where(*conditions)
        .order_by(order)
        .limit(sa.bindparam("limit", type_=sa.Integer))
    )
    if skip:
        statement = statement.offset(sa.bindparam("skip", type_=sa.Integer))
    return statement


class RepositoryStore:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name
        self._reader = Reader(engine)
        key = (_repo.c.namespace_id == sa.bindparam("namespace_id")) & (
            _repo.c.name == sa.bindparam("name")
        )
        self._get = PreparedStatement(engine, sa.select(*_RECORD_COLUMNS).where(key))
        self._namespace_count = PreparedStatement(
            engine,
            sa.select(_account.c.repository_count).where(
                _account.c.id == sa.bindparam("namespace_id")
            ),
        )
        self._registry_count = PreparedStatement(
            engine,
            sa.select(_registry_count.c.repository_count).where(
                _registry_count.c.namespace_id == sa.bindparam("namespace_id"),
                _registry_count.c.host == sa.bindparam("host"),
            ),
        )
        self._pages: dict[tuple, PreparedStatement] = {}
        # Writes are compiled once too: through a Connection, each of Create's three
        # statements cost ~50 us of SQLAlchemy's per-execution work on top of SQLite's.
        self._updates: dict[tuple[str, ...], PreparedStatement] = {}
        self._insert = PreparedStatement(
            # inline(): no RETURNING of the new id, which nothing here reads.
            engine,
            _repo.insert().inline().values({c: sa.bindparam(c) for c in _INSERTED_COLUMNS}),
        )
        self._delete = PreparedStatement(engine, _repo.delete().where(key))
        self._count_namespace = PreparedStatement(
            engine,
            _account.update()
            .where(_account.c.id == sa.bindparam("namespace_id"))
            .values(repository_count=_account.c.repository_count + sa.bindparam("delta")),
        )
        upsert = (postgresql if self._dialect == "postgresql" else sqlite).insert(_registry_count)
        self._count_registry = PreparedStatement(
            engine,
            upsert.values(
                namespace_id=sa.bindparam("namespace_id"),
                host=sa.bindparam("host"),
                repository_count=sa.bindparam("delta"),
            ).on_conflict_do_update(
                index_elements=["namespace_id", "host"],
                set_={
                    "repository_count": _registry_count.c.repository_count
                    + upsert.excluded.repository_count
                },
            ),
        )

    def close(self) -> None:
        """Close the connections kept for reads (the engine's pool is the caller's)."""
        self._reader.close()

    # -- reads ---------------------------------------------------------------

    def get(self, namespace: NamespaceGrant, name: str) -> Repository:
        key = {"namespace_id": namespace.account_id, "name": name}
        row = self._reader.run(lambda cursor: self._get.first_on(cursor, key))
        if row is None:
            raise _not_found(name)
        return _record(namespace.namespace, row)

    def page(
        self,
        namespace: NamespaceGrant,
        window: Window,
        *,
        host: str | None = None,
        name: str | None = None,
    ) -> tuple[list[Repository], int]:
        """A page in name order and the listing's total, on one connection checkout.

        The total of a whole namespace or of one registry host is a counter row, kept
        by every create and delete, not a count(*) over a possibly huge namespace. A
        listing filtered to one exact name holds at most one row: one lookup gives
        both the total and the page.
        """
        namespace_id = namespace.account_id
        if name is not None:
            query, values = self._page_query(namespace_id, Window(1), host, name)
            matches = self._reader.run(lambda cursor: query.all_on(cursor, values))
            total = len(matches)
            rows = matches[window.skip : window.skip + window.limit]
            if window.after is not None:
                rows = [r for r in rows if r[0] > window.after]
            if window.before is not None:
                rows = [r for r in rows if r[0] < window.before]
        else:
            query, values = self._page_query(namespace_id, window, host, None)

            def work(cursor) -> tuple[list[tuple], int]:
                return query.all_on(cursor, values), self._count_on(cursor, namespace_id, host)

            rows, total = self._reader.run(work)
            if window.before is not None:  # a "before" page is read backwards from its edge
                rows.reverse()
        namespace_name = namespace.namespace
        if total == 0 and self._namespace_gone(namespace_id):
            # The caller's access to the namespace was cached before its account was
            # deleted: say so rather than list an empty namespace that is not there.
            raise NamespaceGone(namespace_name, namespace_id)
        return [_record(namespace_name, r) for r in rows], total

    def _namespace_gone(self, namespace_id: int) -> bool:
        """No account holds this id any more (one lookup, for empty listings only)."""
        values = {"namespace_id": namespace_id}
        row = self._reader.run(lambda cursor: self._namespace_count.first_on(cursor, values))
        return row is None

    def _count_on(self, cursor, namespace_id: int, host: str | None) -> int:
        if host is None:
            row = self._namespace_count.first_on(cursor, {"namespace_id": namespace_id})
        else:
            row = self._registry_count.first_on(
                cursor, {"namespace_id": namespace_id, "host": host}
            )
        return row[0] if row else 0

    def _page_query(
        self, namespace_id: int, window: Window, host: str | None, name: str | None
    ) -> tuple[PreparedStatement, dict[str, object]]:
        edge = "after" if window.after is not None else None
        if window.before is not None:
            edge = "before"
        shape = (name is not None, host is not None, edge, bool(window.skip))
        query = self._pages.get(shape)
        if query is None:
            query = self._pages[shape] = PreparedStatement(
                self._engine,
                _page_statement(by_name=shape[0], by_host=shape[1], edge=edge, skip=shape[3]),
            )
        values: dict[str, object] = {"namespace_id": namespace_id, "limit": window.limit}
        if name is not None:
            values["name"] = name
        if host is not None:
            values["low"], values["high"] = _host_range(host)
        if edge is not None:
            values["edge"] = window.after if edge == "after" else window.before
        if window.skip:
            values["skip"] = window.skip
        return query, values

    # -- writes --------------------------------------------------------------

    def create(
        self,
        namespace: NamespaceGrant,
        name: str,
        host: str,
        credentials: EncryptedCredentials,
    ) -> Repository:
        namespace_id = namespace.account_id
        now = datetime.now(UTC)
        values = {
            "namespace_id": namespace_id,
            "name": name,
            "username_encrypted": credentials.username,
            "password_encrypted": credentials.password,
            "in_use": False,
            "created_at": now,
            "updated_at": now,
        }

        def insert(cursor) -> None:
            self._insert.execute_on(cursor, values)
            self._adjust_counts(cursor, namespace_id, host, +1)

        with (
            duplicate_key_as(
                self._engine,
                lambda: AlreadyExists(
                    f"repository '{name}' is already registered in this namespace"
                ),
            ),
            missing_account_as(
                self._engine, lambda: NamespaceGone(namespace.namespace, namespace_id)
            ),
        ):
            write(self._engine, insert)
        return Repository(namespace.namespace, name, False, now, now)

    def update_credentials(
        self,
        namespace: NamespaceGrant,
        name: str,
        *,
        username: str | None,
        password: str | None,
    ) -> Repository:
        """Set the sent credential fields only; a field not sent keeps its value.

        One UPDATE touching only those columns: two concurrent updates of different
        fields both land, and of the same field the last writer wins.
        """
        values: dict[str, object] = {
            "key_namespace_id": namespace.account_id,
            "key_name": name,
            "updated_at": datetime.now(UTC),
        }
        columns = ["updated_at"]
        if username is not None:
            values["username_encrypted"] = username
            columns.append("username_encrypted")
        if password is not None:
            values["password_encrypted"] = password
            columns.append("password_encrypted")
        statement = self._updates.get(tuple(columns))
        if statement is None:
            statement = self._updates[tuple(columns)] = PreparedStatement(
                self._engine,
                _repo.update()
                .where(
                    # Not named like columns: those names belong to the SET clause.
                    _repo.c.namespace_id == sa.bindparam("key_namespace_id"),
                    _repo.c.name == sa.bindparam("key_name"),
                )
                .values({c: sa.bindparam(c) for c in columns})
                .returning(*_RECORD_COLUMNS),
            )
        row = write(self._engine, lambda cursor: statement.first_on(cursor, values))
        if row is None:
            raise _not_found(name)
        return _record(namespace.namespace, row)

    def delete(self, namespace: NamespaceGrant, name: str, host: str) -> None:
        namespace_id = namespace.account_id

        def remove(cursor) -> None:
            key = {"namespace_id": namespace_id, "name": name}
            if self._delete.execute_on(cursor, key) == 0:
                raise _not_found(name)  # rolls back
            self._adjust_counts(cursor, namespace_id, host, -1)

        write(self._engine, remove)

    # -- helpers -------------------------------------------------------------

    def _adjust_counts(self, cursor, namespace_id: int, host: str, delta: int) -> None:
        values = {"namespace_id": namespace_id, "host": host, "delta": delta}
        self._count_namespace.execute_on(cursor, values)  # takes the values it names
        self._count_registry.execute_on(cursor, values)
