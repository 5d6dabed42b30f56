"""The registries of each namespace (domain.ports.RegistryStore): read-only rows of
`registry_count`, one per (namespace, registry host), kept by every create and
delete of a repository (repositories.py) and by every credential check (checks.py).
A registry exists while its repository_count is above 0; a row at 0 is kept (the
next repository on that host reuses it) but never shown.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..domain.access import NamespaceGrant
from ..domain.errors import NotFound, quote
from ..domain.paging import Window
from ..domain.ports import RegistryRecord, Verification, VerificationState
from . import models
from .connections import Reader
from .statements import PreparedStatement

_registry = models.RegistryCount.__table__
_COLUMNS = (
    _registry.c.host,
    _registry.c.repository_count,
    _registry.c.last_check_state,
    _registry.c.last_checked_at,
    _registry.c.last_check_reason,
)
_IN_USE = (_registry.c.namespace_id == sa.bindparam("namespace_id")) & (
    _registry.c.repository_count > 0
)
_STATES = {state.value: state for state in VerificationState}
_NEVER_CHECKED = Verification(VerificationState.PENDING, None, "no check has finished yet")


def _record(namespace: str, row: tuple) -> RegistryRecord:
    host, count, state, checked_at, reason = row
    if state is None:
        verification = _NEVER_CHECKED
    else:
        verification = Verification(
            _STATES.get(state, VerificationState.PENDING), checked_at, reason
        )
    return RegistryRecord(namespace, host, count, verification)


class RegistryStore:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._reader = Reader(engine)
        self._get = PreparedStatement(
            engine, sa.select(*_COLUMNS).where(_IN_USE, _registry.c.host == sa.bindparam("host"))
        )
        self._count = PreparedStatement(
            engine, sa.select(sa.func.count()).select_from(_registry).where(_IN_USE)
        )
        self._pages: dict[tuple[str | None, bool], PreparedStatement] = {}

    def close(self) -> None:
        self._reader.close()

    def get(self, namespace: NamespaceGrant, host: str) -> RegistryRecord:
        values = {"namespace_id": namespace.account_id, "host": host}
        row = self._reader.run(lambda cursor: self._get.first_on(cursor, values))
        if row is None:
            raise NotFound(
                f"registry {quote(host, 253)} is not used by any repository of namespace "
                f"'{namespace.namespace}'"
            )
        return _record(namespace.namespace, row)

    def page(self, namespace: NamespaceGrant, window: Window) -> tuple[list[RegistryRecord], int]:
        """A page in host order, and how many registries the namespace uses."""
        edge = "after" if window.after is not None else None
        if window.before is not None:
            edge = "before"
        shape = (edge, bool(window.skip))
        query = self._pages.get(shape) or self._page_statement(*shape)
        values: dict[str, object] = {"namespace_id": namespace.account_id, "limit": window.limit}
        if edge is not None:
            values["edge"] = window.after if edge == "after" else window.before
        if window.skip:
            values["skip"] = window.skip

        def work(cursor) -> tuple[list[tuple], int]:
            rows = query.all_on(cursor, values)
            count = self._count.first_on(cursor, {"namespace_id": namespace.account_id})
            return rows, count[0] if count else 0

        rows, total = self._reader.run(work)
        if edge == "before":  # read backwards from the edge
            rows.reverse()
        return [_record(namespace.namespace, row) for row in rows], total

    def _page_statement(self, edge: str | None, skip: bool) -> PreparedStatement:
        conditions = [_IN_USE]
        if edge == "after":
            conditions.append(_registry.c.host > sa.bindparam("edge"))
        elif edge == "before":
            conditions.append(_registry.c.host < sa.bindparam("edge"))
        order = _registry.c.host.desc() if edge == "before" else _registry.c.host.asc()
        statement = (
            sa.select(*_COLUMNS)
            .where(*conditions)
            .order_by(order)
            .limit(sa.bindparam("limit", type_=sa.Integer))
        )
        if skip:
            statement = statement.offset(sa.bindparam("skip", type_=sa.Integer))
        prepared = self._pages[(edge, skip)] = PreparedStatement(self._engine, statement)
        return prepared
