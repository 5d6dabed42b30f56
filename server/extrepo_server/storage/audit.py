"""The audit log's table (domain.ports.AuditStore): entries written in the
transaction of the change they record (`AuditRows.insert_on`, used by the stores
that make changes), entries of no change (`AuditStore.record`), reading a
namespace's log newest first, and removing what is older than the retention.

A page is ordered by the row id, descending: ids grow with time, and the
(namespace_id, id) index serves both the order and the keyset cursor, whose edge
is an id. The listing's total is a count(*) over the namespace's entries (with the
filters): the log is bounded by its retention, and it is read by people, not on
the API's hot path.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import sqlalchemy as sa

from ..domain.access import NamespaceGrant
from ..domain.audit import (
    MAX_ACTOR_LENGTH,
    MAX_OBJECT_LENGTH,
    MAX_USER_AGENT_LENGTH,
    ActionFilters,
    AuditEntry,
    StoredAction,
)
from ..domain.paging import Window
from . import models
from .connections import Reader, Writer, write
from .statements import PreparedStatement

_audit = models.AuditAction.__table__

_STORED_COLUMNS = (
    _audit.c.id,
    _audit.c.uuid,
    _audit.c.namespace,
    _audit.c.action,
    _audit.c.object,
    _audit.c.actor,
    _audit.c.actor_key_id,
    _audit.c.is_user_action,
    _audit.c.rpc,
    _audit.c.method,
    _audit.c.fields,
    _audit.c.state,
    _audit.c.code,
    _audit.c.reason,
    _audit.c.request_id,
    _audit.c.ip,
    _audit.c.user_agent,
    _audit.c.start_date,
    _audit.c.end_date,
    _audit.c.detail,
)
_INSERTED = [c.name for c in _STORED_COLUMNS[1:]] + ["namespace_id"]
# Retention removes at most this many rows per statement, so that no transaction
# holds the table long on a large backlog.
_PRUNE_BATCH = 5_000


def _truncated(text: str, length: int) -> str:
    # A failed attempt's entry quotes what the caller sent, which may hold a NUL
    # (refused as INVALID_ARGUMENT): PostgreSQL text cannot, so it is spelled out.
    if "\x00" in text:
        text = text.replace("\x00", "\\0")
    return text if len(text) <= length else text[:length]


def entry_values(entry: AuditEntry) -> dict[str, object]:
    call = entry.call
    return {
        "uuid": entry.uuid,
        "namespace_id": entry.namespace.account_id,
        "namespace": entry.namespace.name,
        "action": entry.action,
        "object": _truncated(entry.object, MAX_OBJECT_LENGTH),
        "actor": _truncated(entry.actor.name, MAX_ACTOR_LENGTH),
        "actor_key_id": entry.actor.key_id,
        "is_user_action": entry.actor.is_user,
        "rpc": _truncated(call.rpc, 128),
        "method": call.method,
        "fields": ",".join(entry.fields),
        "state": entry.state,
        "code": entry.code,
        "reason": _truncated(entry.reason, 64),
        "request_id": call.request_id,
        "detail": _truncated(entry.detail, 255),
        "ip": _truncated(call.ip, 64),
        "user_agent": _truncated(call.user_agent, MAX_USER_AGENT_LENGTH),
        "start_date": call.started,
        "end_date": entry.end_date,
    }


def record_on(conn: sa.Connection, entry: AuditEntry, namespace_id: int | None = None) -> None:
    """Write `entry` in the transaction of `conn` (the administration's stores, on
    SQLAlchemy Connections); `namespace_id` completes an entry made before its
    namespace's account existed."""
    values = entry_values(entry)
    if namespace_id is not None:
        values["namespace_id"] = namespace_id
    conn.execute(_audit.insert().values(values))


def _stored(row: tuple) -> StoredAction:
    fields = row[10]
    return StoredAction(
        uuid=row[1],
        namespace=row[2],
        action=row[3],
        object=row[4],
        actor=row[5],
        actor_key_id=row[6],
        is_user_action=bool(row[7]),
        rpc=row[8],
        method=row[9],
        fields=tuple(fields.split(",")) if fields else (),
        state=row[11],
        code=row[12],
        reason=row[13],
        request_id=row[14],
        ip=row[15],
        user_agent=row[16],
        start_date=row[17],
        end_date=row[18],
        detail=row[19],
    )


class AuditRows:
    """The INSERT of an entry, compiled once, for the stores that write an entry in
    the transaction of their change."""

    def __init__(self, engine: sa.Engine) -> None:
        self._insert = PreparedStatement(
            engine, _audit.insert().inline().values({c: sa.bindparam(c) for c in _INSERTED})
        )

    def insert_on(self, cursor, entry: AuditEntry) -> None:
        self._insert.execute_on(cursor, entry_values(entry))


def _conditions(filters: ActionFilters) -> Iterator[sa.ColumnElement[bool]]:
    if filters.object:
        yield _audit.c.object == sa.bindparam("object")
    if filters.actor:
        yield _audit.c.actor == sa.bindparam("actor")
    if filters.action:
        yield _audit.c.action == sa.bindparam("action")
    if filters.since is not None:
        yield _audit.c.start_date >= sa.bindparam("since", type_=models.UTC_TIME)
    if filters.until is not None:
        yield _audit.c.start_date < sa.bindparam("until", type_=models.UTC_TIME)


def _filter_values(filters: ActionFilters) -> dict[str, object]:
    values = {"object": filters.object, "actor": filters.actor, "action": filters.action}
    values = {k: v for k, v in values.items() if v}
    if filters.since is not None:
        values["since"] = filters.since
    if filters.until is not None:
        values["until"] = filters.until
    return values


class AuditStore:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._reader = Reader(engine)
        self._writer = Writer(engine, threads=1)
        self.rows = AuditRows(engine)
        self._get = PreparedStatement(
            engine,
            sa.select(*_STORED_COLUMNS).where(
                _audit.c.namespace_id == sa.bindparam("namespace_id"),
                _audit.c.uuid == sa.bindparam("uuid"),
            ),
        )
        self._pages: dict[tuple, tuple[PreparedStatement, PreparedStatement]] = {}
        oldest = (
            sa.select(_audit.c.id)
            .where(_audit.c.start_date < sa.bindparam("before", type_=models.UTC_TIME))
            .order_by(_audit.c.id)
            .limit(_PRUNE_BATCH)
            .scalar_subquery()
        )
        self._prune = PreparedStatement(engine, _audit.delete().where(_audit.c.id.in_(oldest)))

    def close(self) -> None:
        self._writer.close()
        self._reader.close()

    async def record(self, entry: AuditEntry) -> None:
        """Write an entry of no change (a failed attempt, a check, a hand-out)."""
        await self._writer.run(lambda cursor: self.rows.insert_on(cursor, entry))

    def record_now(self, entry: AuditEntry) -> None:
        """`record`, for callers outside the event loop (the administration command,
        the authentication throttle, which runs rarely)."""
        write(self._engine, lambda cursor: self.rows.insert_on(cursor, entry))

    def get(self, namespace: NamespaceGrant, entry_uuid: str) -> StoredAction | None:
        values = {"namespace_id": namespace.account_id, "uuid": entry_uuid}
        row = self._reader.run(lambda cursor: self._get.first_on(cursor, values))
        return None if row is None else _stored(row)

    def page(
        self, namespace: NamespaceGrant, window: Window, filters: ActionFilters
    ) -> tuple[list[StoredAction], list[str], int]:
        """A page newest first, the ids of its rows (the cursor's edges) and the
        listing's total."""
        edge = "after" if window.after is not None else None
        if window.before is not None:
            edge = "before"
        shape = (
            bool(filters.object),
            bool(filters.actor),
            bool(filters.action),
            filters.since is not None,
            filters.until is not None,
            edge,
            bool(window.skip),
        )
        statements = self._pages.get(shape)
        if statements is None:
            statements = self._pages[shape] = self._page_statements(filters, edge, window)
        page_query, count_query = statements
        values: dict[str, object] = {
            "namespace_id": namespace.account_id,
            **_filter_values(filters),
        }
        page_values = {**values, "limit": window.limit}
        if edge is not None:
            try:
                page_values["edge"] = int(window.after or window.before or "")
            except ValueError:  # signed by us, so never; but never a crash either
                page_values["edge"] = 0
        if window.skip:
            page_values["skip"] = window.skip

        def work(cursor) -> tuple[list[tuple], int]:
            rows = page_query.all_on(cursor, page_values)
            total = count_query.first_on(cursor, values)
            return rows, total[0] if total else 0

        rows, total = self._reader.run(work)
        if edge == "before":  # read from the edge towards newer entries
            rows.reverse()
        return [_stored(r) for r in rows], [str(r[0]) for r in rows], total

    def _page_statements(
        self, filters: ActionFilters, edge: str | None, window: Window
    ) -> tuple[PreparedStatement, PreparedStatement]:
        conditions = [_audit.c.namespace_id == sa.bindparam("namespace_id"), *_conditions(filters)]
        count = sa.select(sa.func.count()).select_from(_audit).where(*conditions)
        if edge == "after":  # older than the edge: further down the listing
            conditions.append(_audit.c.id < sa.bindparam("edge"))
        elif edge == "before":
            conditions.append(_audit.c.id > sa.bindparam("edge"))
        order = _audit.c.id.asc() if edge == "before" else _audit.c.id.desc()
        page = (
            sa.select(*_STORED_COLUMNS)
            .where(*conditions)
            .order_by(order)
            .limit(sa.bindparam("limit", type_=sa.Integer))
        )
        if window.skip:
            page = page.offset(sa.bindparam("skip", type_=sa.Integer))
        return PreparedStatement(self._engine, page), PreparedStatement(self._engine, count)

    def prune(self, before: datetime) -> int:
        """Remove the entries that started before `before`, in batches; how many."""
        removed = 0
        while True:
            batch = write(
                self._engine, lambda cursor: self._prune.execute_on(cursor, {"before": before})
            )
            removed += max(batch, 0)
            if batch < _PRUNE_BATCH:
                return removed
