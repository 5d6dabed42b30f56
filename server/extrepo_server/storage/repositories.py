"""The API's store of external repositories (domain.ports.RepositoryStore), in
SQLAlchemy Core.

The ORM's Session costs roughly twice as much per statement as Core on this hot path
(Get is one indexed lookup), so the SQLModel tables define the schema and Core runs
the statements, compiled once (statements.py). Every read uses the unique
(namespace_id, name) index. Credentials are written here but never read: the
administration's re-encryption has its own store (reencryption.py), and checking
them reads them with `credentials()`. Every row names the key of its credentials
(key_id), and is never left under two keys. Each row also holds its latest
credential check (verification_*), written with the credentials it checked.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ..domain.access import NamespaceGrant
from ..domain.audit import AuditEntry
from ..domain.errors import (
    AlreadyExists,
    FailedPrecondition,
    NamespaceGone,
    NotFound,
    Unavailable,
    quote,
)
from ..domain.names import MAX_NAME_LENGTH
from ..domain.paging import Window
from ..domain.ports import (
    PENDING,
    EncryptedCredentials,
    Repository,
    Verification,
    VerificationState,
)
from . import models
from .audit import AuditRows
from .checks import registry_check_statement, registry_check_values
from .connections import Reader, Writer
from .errors import duplicate_key_as, missing_account_as
from .keys import refuse_unknown_key
from .statements import PreparedStatement

_repo = models.Repository.__table__
_account = models.Account.__table__
_registry_count = models.RegistryCount.__table__
_usage = models.RepositoryUsage.__table__

# What a Repository record is made of, in its field order after `namespace`.
_RECORD_COLUMNS = (
    _repo.c.name,
    _repo.c.in_use,
    _repo.c.created_at,
    _repo.c.updated_at,
    _repo.c.verification_state,
    _repo.c.checked_at,
    _repo.c.verification_reason,
)
# The columns a check's outcome is written to, with the credentials it checked.
_VERIFICATION_COLUMNS = (
    "verification_state",
    "checked_at",
    "verification_reason",
    "next_check_at",
    "check_failures",
)
_INSERTED_COLUMNS = (
    "namespace_id",
    "name",
    "username_encrypted",
    "password_encrypted",
    "key_id",
    "in_use",
    "created_at",
    "updated_at",
    *_VERIFICATION_COLUMNS,
)
_STATES = {state.value: state for state in VerificationState}


# A one-field update of a row under an older key retries its compare-and-swap this often
# when concurrent writers keep changing the row in between (each try is one read and one
# conditional write); then the caller hears Unavailable.
_REWRAP_ATTEMPTS = 5


# One repository by its unique (namespace_id, name): for reads and deletes, and for
# updates, whose bound parameters are not named like columns (those names belong to
# the SET clause).
_BY_NAME = (_repo.c.namespace_id == sa.bindparam("namespace_id")) & (
    _repo.c.name == sa.bindparam("name")
)
_UPDATED_BY_NAME = (_repo.c.namespace_id == sa.bindparam("key_namespace_id")) & (
    _repo.c.name == sa.bindparam("key_name")
)


def _record(namespace: str, row: tuple) -> Repository:
    # A page's rows carry the listing's total after the record's columns (_total).
    name, in_use, created_at, updated_at, state, checked_at, reason, *_ = row
    # A state this version does not know (written by a newer one) reads as pending.
    verification = Verification(_STATES.get(state, VerificationState.PENDING), checked_at, reason)
    return Repository(namespace, name, in_use, created_at, updated_at, verification)


def _verification_values(
    verification: Verification, next_check_at: datetime | None
) -> dict[str, object]:
    return {
        "verification_state": verification.state.value,
        "checked_at": verification.checked_at,
        "verification_reason": verification.reason,
        "next_check_at": next_check_at,
        "check_failures": 0,
    }


def repository_not_found(name: str) -> NotFound:
    return NotFound(f"repository {_quoted(name)} not found")


def _in_use(name: str, consumers: list[str]) -> FailedPrecondition:
    shown = ", ".join(quote(c) for c in consumers[:3])
    more = " and others" if len(consumers) > 3 else ""
    return FailedPrecondition(
        f"repository {_quoted(name)} is in use by {shown}{more}; it can be deleted once "
        "they remove their usages",
        reason="REPOSITORY_IN_USE",
        metadata={"consumers": ",".join(consumers[:3])[:1000]},
    )


def _quoted(name: str) -> str:
    # Names reach storage validated (at most MAX_NAME_LENGTH): quoted whole, escaped.
    return quote(name, MAX_NAME_LENGTH)


def _host_range(host: str) -> tuple[str, str]:
    # Names on `host` are exactly those in [host + "/", host + "0"): "0" is the
    # character right after "/", and names compare byte-wise (see models).
    return host + "/", host + "0"


def _total(*, by_host: bool) -> sa.Label:
    """The listing's total as a column: its counter row (of the namespace, or of one
    registry host in it), read by a subquery that the database runs once. The page
    and its total then take one statement, one round trip on PostgreSQL; an empty
    page, which has no row to carry it, reads the counter itself."""
    if by_host:
        counter = sa.select(_registry_count.c.repository_count).where(
            _registry_count.c.namespace_id == sa.bindparam("namespace_id"),
            _registry_count.c.host == sa.bindparam("host"),
        )
    else:
        counter = sa.select(_account.c.repository_count).where(
            _account.c.id == sa.bindparam("namespace_id")
        )
    return counter.scalar_subquery().label("total")


def _page_statement(*, by_name: bool, by_host: bool, edge: str | None, skip: bool) -> sa.Select:
    """The SELECT of one kind of page; every value is a bound parameter. Unless it
    is filtered to one name, each row ends with the listing's total (_total)."""
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
    columns = [*_RECORD_COLUMNS] if by_name else [*_RECORD_COLUMNS, _total(by_host=by_host)]
    statement = (
        sa.select(*columns)
        .where(*conditions)
        .order_by(order)
        .limit(sa.bindparam("limit", type_=sa.Integer))
    )
    if skip:
        statement = statement.offset(sa.bindparam("skip", type_=sa.Integer))
    return statement


class RepositoryStore:
    def __init__(self, engine: sa.Engine, *, write_threads: int = 1) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name
        self._reader = Reader(engine)
        self._writer = Writer(engine, threads=write_threads)
        self._audit = AuditRows(engine)  # each change's entry, in its transaction
        self._get = PreparedStatement(engine, sa.select(*_RECORD_COLUMNS).where(_BY_NAME))
        self._credentials = PreparedStatement(
            engine,
            sa.select(_repo.c.username_encrypted, _repo.c.password_encrypted, _repo.c.key_id).where(
                _BY_NAME
            ),
        )
        self._record_registry_check = registry_check_statement(engine)
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
        self._rewrapping: dict[str, tuple[PreparedStatement, PreparedStatement]] = {}
        self._insert = PreparedStatement(
            # inline(): no RETURNING of the new id, which nothing here reads.
            engine,
            _repo.insert().inline().values({c: sa.bindparam(c) for c in _INSERTED_COLUMNS}),
        )
        # A repository in use is never deleted: the condition is in the DELETE itself,
        # which PostgreSQL re-checks on the row's latest version after waiting for a
        # usage write's lock (usages.py).
        self._delete = PreparedStatement(
            engine, _repo.delete().where(_BY_NAME, _repo.c.in_use.is_(False))
        )
        self._in_use_by = PreparedStatement(
            engine,
            sa.select(_usage.c.consumer)
            .select_from(_repo.join(_usage, _usage.c.repository_id == _repo.c.id))
            .where(_BY_NAME)
            .order_by(_usage.c.consumer)
            .limit(4),
        )
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
        """Finish the writes in progress and close the connections kept for reads and
        writes (the engine's pool is the caller's)."""
        self._writer.close()
        self._reader.close()

    # -- reads ---------------------------------------------------------------

    def get(self, namespace: NamespaceGrant, name: str) -> Repository:
        key = {"namespace_id": namespace.account_id, "name": name}
        row = self._reader.run(lambda cursor: self._get.first_on(cursor, key))
        if row is None:
            raise repository_not_found(name)
        return _record(namespace.namespace, row)

    def credentials(self, namespace: NamespaceGrant, name: str) -> EncryptedCredentials:
        """The stored (encrypted) credentials of a repository, for checking them."""
        key = {"namespace_id": namespace.account_id, "name": name}
        row = self._reader.run(lambda cursor: self._credentials.first_on(cursor, key))
        if row is None:
            raise repository_not_found(name)
        return EncryptedCredentials(row[0], row[1], row[2] or "")

    def page(
        self,
        namespace: NamespaceGrant,
        window: Window,
        *,
        host: str | None = None,
        name: str | None = None,
    ) -> tuple[list[Repository], int]:
        """A page in name order and the listing's total, in one statement (_total).

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
                rows = query.all_on(cursor, values)
                if rows:
                    return rows, rows[0][-1] or 0
                return rows, self._count_on(cursor, namespace_id, host)

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
            if name is None:
                values["host"] = host  # the total's
        if edge is not None:
            values["edge"] = window.after if edge == "after" else window.before
        if window.skip:
            values["skip"] = window.skip
        return query, values

    # -- writes --------------------------------------------------------------

    async def create(
        self,
        namespace: NamespaceGrant,
        name: str,
        host: str,
        credentials: EncryptedCredentials,
        verification: Verification = PENDING,
        next_check_at: datetime | None = None,
        audit: AuditEntry | None = None,
    ) -> Repository:
        namespace_id = namespace.account_id
        now = datetime.now(UTC)
        values = {
            "namespace_id": namespace_id,
            "name": name,
            "username_encrypted": credentials.username,
            "password_encrypted": credentials.password,
            "key_id": credentials.key_id,
            "in_use": False,
            "created_at": now,
            "updated_at": now,
            **_verification_values(verification, next_check_at),
        }
        checked = verification.checked_at is not None
        registry_values = registry_check_values(namespace_id, host, verification)

        def insert(cursor) -> None:
            self._insert.execute_on(cursor, values)
            self._adjust_counts(cursor, namespace_id, host, +1)
            if checked:
                self._record_registry_check.execute_on(cursor, registry_values)
            if audit is not None:
                self._audit.insert_on(cursor, audit)

        with (
            duplicate_key_as(
                self._engine,
                lambda: AlreadyExists(
                    f"repository {_quoted(name)} is already registered in this namespace"
                ),
            ),
            # A foreign key failing is a namespace deleted meanwhile, unless it is
            # the key id's (refuse_unknown_key, inner, tells them apart).
            missing_account_as(
                self._engine, lambda: NamespaceGone(namespace.namespace, namespace_id)
            ),
            refuse_unknown_key(self._engine, credentials.key_id),
        ):
            await self._writer.run(insert)
        return Repository(namespace.namespace, name, False, now, now, verification)

    async def update_credentials(
        self,
        namespace: NamespaceGrant,
        name: str,
        *,
        username: str | None,
        password: str | None,
        key_id: str,
        rewrap: Callable[[str], str | None],
        verification: Verification = PENDING,
        next_check_at: datetime | None = None,
        host: str | None = None,
        audit: AuditEntry | None = None,
    ) -> Repository:
        """Set the sent credential fields only; a field not sent keeps its value. The
        check of the new credentials (`verification`) is stored with them.

        One UPDATE touching only those columns: two concurrent updates of different
        fields both land, and of the same field the last writer wins. With one field
        sent, that UPDATE applies only while the row is under the new token's key (so
        the key id needs no writing, nor its index); a row under another key (written
        before a key rotation) takes a slower path that re-encrypts the kept field too,
        in the same statement (`_update_rewrapping`).
        """
        one_field = username is None or password is None
        values: dict[str, object] = {
            "key_namespace_id": namespace.account_id,
            "key_name": name,
            "updated_at": datetime.now(UTC),
            **_verification_values(verification, next_check_at),
        }
        columns = ["updated_at", *_VERIFICATION_COLUMNS]
        if one_field:
            values["key_key_id"] = key_id
        else:
            values["key_id"] = key_id
            columns.append("key_id")
        if username is not None:
            values["username_encrypted"] = username
            columns.append("username_encrypted")
        if password is not None:
            values["password_encrypted"] = password
            columns.append("password_encrypted")
        statement = self._updates.get(tuple(columns))
        if statement is None:
            conditions = [_UPDATED_BY_NAME]
            if one_field:
                conditions.append(_repo.c.key_id == sa.bindparam("key_key_id"))
            statement = self._updates[tuple(columns)] = PreparedStatement(
                self._engine,
                _repo.update()
                .where(*conditions)
                .values({c: sa.bindparam(c) for c in columns})
                .returning(*_RECORD_COLUMNS),
            )
        registry_values = registry_check_values(namespace.account_id, host or "", verification)
        checked = verification.checked_at is not None and host is not None

        def update(cursor) -> tuple | None:
            row = statement.first_on(cursor, values)
            if row is not None and checked:
                self._record_registry_check.execute_on(cursor, registry_values)
            if row is not None and audit is not None:
                self._audit.insert_on(cursor, audit)
            return row

        with refuse_unknown_key(self._engine, key_id):
            row = await self._writer.run(update)
            if row is None and one_field:
                sent = "username_encrypted" if username is not None else "password_encrypted"
                row = await self._update_rewrapping(
                    namespace.account_id,
                    name,
                    sent,
                    values[sent],
                    key_id,
                    rewrap,
                    {c: values[c] for c in _VERIFICATION_COLUMNS},
                    audit,
                )
                if row is not None and checked:
                    await self._writer.run(
                        lambda cursor: self._record_registry_check.execute_on(
                            cursor, registry_values
                        )
                    )
        if row is None:
            raise repository_not_found(name)
        return _record(namespace.namespace, row)

    async def _update_rewrapping(
        self,
        namespace_id: int,
        name: str,
        sent: str,
        token: object,
        key_id: str,
        rewrap: Callable[[str], str | None],
        verification_values: dict[str, object],
        audit: AuditEntry | None,
    ) -> tuple | None:
        """A one-field update of a row that is not under the new token's key (or is
        gone): read the kept field and its key, re-encrypt it under the new key, and
        write both fields and the key id in one UPDATE that applies only if neither
        changed since the read (else read again). None if the row does not exist."""
        kept = "password_encrypted" if sent == "username_encrypted" else "username_encrypted"
        read, swap = self._rewrapping.get(sent) or self._rewrapping_statements(sent, kept)
        key = {"namespace_id": namespace_id, "name": name}

        def attempt(cursor) -> tuple | bool | None:
            current = read.first_on(cursor, key)
            if current is None:
                return None
            old_key_id, old_kept = current
            new_kept = old_kept if old_key_id == key_id else rewrap(old_kept)
            if new_kept is None:
                # At start this server held every key the rows needed: this one is newer
                # (a rotation, or a replica with the next key), and a restart brings it.
                field = kept.removesuffix("_encrypted")
                raise Unavailable(
                    f"this server cannot keep the stored {field} of {_quoted(name)} yet (it is "
                    "encrypted with a newer key); retry shortly, or send both username "
                    "and password",
                    reason="ENCRYPTION_KEY_NOT_LOADED",
                )
            swapped = swap.first_on(
                cursor,
                {
                    "key_namespace_id": namespace_id,
                    "key_name": name,
                    "updated_at": datetime.now(UTC),
                    "key_id": key_id,
                    sent: token,
                    kept: new_kept,
                    "old_key_id": old_key_id,
                    "old_kept": old_kept,
                    **verification_values,
                },
            )
            if swapped is None:
                return False  # changed meanwhile
            if audit is not None:
                self._audit.insert_on(cursor, audit)
            return swapped

        for _ in range(_REWRAP_ATTEMPTS):
            row = await self._writer.run(attempt)
            if row is not False:
                return row
        raise Unavailable(
            "this repository is being updated by others at this moment; retry",
            reason="CONCURRENT_UPDATE",
        )

    def _rewrapping_statements(
        self, sent: str, kept: str
    ) -> tuple[PreparedStatement, PreparedStatement]:
        read = PreparedStatement(
            self._engine, sa.select(_repo.c.key_id, _repo.c[kept]).where(_BY_NAME)
        )
        swap = PreparedStatement(
            self._engine,
            _repo.update()
            .where(
                _UPDATED_BY_NAME,
                _repo.c.key_id.is_not_distinct_from(sa.bindparam("old_key_id")),
                _repo.c[kept] == sa.bindparam("old_kept"),
            )
            .values(
                {
                    c: sa.bindparam(c)
                    for c in ("updated_at", "key_id", sent, kept, *_VERIFICATION_COLUMNS)
                }
            )
            .returning(*_RECORD_COLUMNS),
        )
        self._rewrapping[sent] = (read, swap)
        return read, swap

    async def delete(
        self, namespace: NamespaceGrant, name: str, host: str, audit: AuditEntry | None = None
    ) -> None:
        namespace_id = namespace.account_id

        def remove(cursor) -> None:
            key = {"namespace_id": namespace_id, "name": name}
            if self._delete.execute_on(cursor, key) == 0:
                consumers = [row[0] for row in self._in_use_by.all_on(cursor, key)]
                if consumers:
                    raise _in_use(name, consumers)
                raise repository_not_found(name)  # rolls back
            self._adjust_counts(cursor, namespace_id, host, -1)
            if audit is not None:
                self._audit.insert_on(cursor, audit)

        await self._writer.run(remove)

    # -- helpers -------------------------------------------------------------

    def _adjust_counts(self, cursor, namespace_id: int, host: str, delta: int) -> None:
        values = {"namespace_id": namespace_id, "host": host, "delta": delta}
        self._count_namespace.execute_on(cursor, values)  # takes the values it names
        self._count_registry.execute_on(cursor, values)
