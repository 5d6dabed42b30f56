"""The usages of repositories (domain.ports.UsageStore).

Every write here first locks the repository row (an UPDATE, or SELECT ... FOR UPDATE
on PostgreSQL; SQLite has one writer at a time), and Delete refuses a row whose
in_use is true in the same statement that deletes it (repositories.py). PostgreSQL
re-reads a locked row's latest version before deleting it, so of a racing CreateUsage
and Delete, either the usage lands first and the delete is refused, or the delete
lands first and the usage is NOT_FOUND: never a usage of a deleted repository, never
a deleted repository that was in use.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ..domain.access import NamespaceGrant
from ..domain.audit import AuditEntry
from ..domain.ports import UsageRecord
from . import models
from .audit import AuditRows
from .connections import Reader, Writer
from .errors import missing_account_as
from .repositories import repository_not_found
from .statements import PreparedStatement

_repo = models.Repository.__table__
_usage = models.RepositoryUsage.__table__
_BY_NAME = (_repo.c.namespace_id == sa.bindparam("namespace_id")) & (
    _repo.c.name == sa.bindparam("name")
)
_USAGE_COLUMNS = (_usage.c.consumer, _usage.c.recorded_by, _usage.c.created_at)


def _unchanged(entry: AuditEntry) -> AuditEntry:
    # The call succeeded without changing anything (a usage already recorded, or not
    # recorded): on record all the same, marked so.
    return replace(entry, reason="UNCHANGED")


class UsageStore:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._reader = Reader(engine)
        self._writer = Writer(engine, threads=2)
        self._audit = AuditRows(engine)
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        self._mark_in_use = PreparedStatement(
            engine,
            _repo.update()
            .where(
                _repo.c.namespace_id == sa.bindparam("key_namespace_id"),
                _repo.c.name == sa.bindparam("key_name"),
            )
            .values(in_use=True)
            .returning(_repo.c.id),
        )
        self._insert = PreparedStatement(
            engine,
            dialect.insert(_usage)
            .values(
                repository_id=sa.bindparam("repository_id"),
                consumer=sa.bindparam("consumer"),
                recorded_by=sa.bindparam("recorded_by"),
                created_at=sa.bindparam("created_at"),
            )
            .on_conflict_do_nothing(index_elements=["repository_id", "consumer"]),
        )
        self._one = PreparedStatement(
            engine,
            sa.select(*_USAGE_COLUMNS).where(
                _usage.c.repository_id == sa.bindparam("repository_id"),
                _usage.c.consumer == sa.bindparam("consumer"),
            ),
        )
        self._lock = PreparedStatement(
            engine, sa.select(_repo.c.id).where(_BY_NAME).with_for_update()
        )
        self._find = PreparedStatement(engine, sa.select(_repo.c.id).where(_BY_NAME))
        self._remove = PreparedStatement(
            engine,
            _usage.delete().where(
                _usage.c.repository_id == sa.bindparam("repository_id"),
                _usage.c.consumer == sa.bindparam("consumer"),
            ),
        )
        still_used = (
            sa.select(sa.literal(1))
            .select_from(_usage)
            .where(_usage.c.repository_id == sa.bindparam("key_id"))
            .exists()
        )
        self._recount = PreparedStatement(
            engine,
            _repo.update()
            .where(_repo.c.id == sa.bindparam("key_id"))
            .values(in_use=still_used)
            .returning(_repo.c.in_use),
        )
        self._page = PreparedStatement(
            engine,
            sa.select(*_USAGE_COLUMNS)
            .where(
                _usage.c.repository_id == sa.bindparam("repository_id"),
                _usage.c.consumer > sa.bindparam("after"),
            )
            .order_by(_usage.c.consumer)
            .limit(sa.bindparam("limit", type_=sa.Integer)),
        )
        self._count = PreparedStatement(
            engine,
            sa.select(sa.func.count())
            .select_from(_usage)
            .where(_usage.c.repository_id == sa.bindparam("repository_id")),
        )

    def close(self) -> None:
        self._writer.close()
        self._reader.close()

    async def add(
        self,
        namespace: NamespaceGrant,
        name: str,
        consumer: str,
        recorded_by: str,
        audit: AuditEntry | None = None,
    ) -> tuple[UsageRecord, bool]:
        """Record the usage (or find it recorded); whether this call recorded it."""
        now = datetime.now(UTC)

        def work(cursor) -> tuple[tuple, bool]:
            row = self._mark_in_use.first_on(
                cursor, {"key_namespace_id": namespace.account_id, "key_name": name}
            )
            if row is None:
                raise repository_not_found(name)
            key = {"repository_id": row[0], "consumer": consumer}
            created = (
                self._insert.execute_on(
                    cursor, {**key, "recorded_by": recorded_by, "created_at": now}
                )
                == 1
            )
            if audit is not None:
                self._audit.insert_on(cursor, audit if created else _unchanged(audit))
            return self._one.first_on(cursor, key), created

        with missing_account_as(self._engine, lambda: repository_not_found(name)):
            usage, created = await self._writer.run(work)
        return UsageRecord(namespace.namespace, name, *usage), created

    async def remove(
        self, namespace: NamespaceGrant, name: str, consumer: str, audit: AuditEntry | None = None
    ) -> tuple[bool, bool]:
        """Remove the usage if recorded: (whether it was, whether the repository is
        still in use)."""

        def work(cursor) -> tuple[bool, bool]:
            row = self._lock.first_on(cursor, {"namespace_id": namespace.account_id, "name": name})
            if row is None:
                raise repository_not_found(name)
            removed = self._remove.execute_on(
                cursor, {"repository_id": row[0], "consumer": consumer}
            )
            in_use = self._recount.first_on(cursor, {"key_id": row[0]})
            if audit is not None:
                self._audit.insert_on(cursor, audit if removed == 1 else _unchanged(audit))
            return removed == 1, bool(in_use[0])

        return await self._writer.run(work)

    def page(
        self, namespace: NamespaceGrant, name: str, after: str, limit: int
    ) -> tuple[list[UsageRecord], int]:
        """Usages after the consumer `after` in consumer order, and how many in all."""

        def work(cursor) -> tuple[list[tuple], int]:
            row = self._find.first_on(cursor, {"namespace_id": namespace.account_id, "name": name})
            if row is None:
                raise repository_not_found(name)
            key = {"repository_id": row[0]}
            rows = self._page.all_on(cursor, {**key, "after": after, "limit": limit})
            return rows, self._count.first_on(cursor, key)[0]

        rows, total = self._reader.run(work)
        return [UsageRecord(namespace.namespace, name, *row) for row in rows], total
