"""The store of credential checks: the queue of background re-checks, and the
record of each check's outcome on the repository and on its registry host.

Every server runs the re-check loop (domain/rechecks.py); replicas of one database
share the queue. A server claims a due row by moving its due time forward in one
conditional UPDATE (only the first of two replicas changes it), and records an
outcome only while the row still holds the credentials it checked (its updated_at
is unchanged), so a check of old credentials never overwrites the outcome of newer
ones, which Update records itself.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from ..domain.ports import DueCheck, EncryptedCredentials, Verification
from . import models
from .connections import Reader, Writer
from .statements import PreparedStatement

_repo = models.Repository.__table__
_registry = models.RegistryCount.__table__


def registry_check_statement(engine: sa.Engine) -> PreparedStatement:
    """Records a check as its registry host's latest for the namespace, unless a
    later one is recorded already. Values: namespace_id, host, state, checked_at,
    reason."""
    return PreparedStatement(
        engine,
        _registry.update()
        .where(
            _registry.c.namespace_id == sa.bindparam("key_namespace_id"),
            _registry.c.host == sa.bindparam("key_host"),
            sa.or_(
                _registry.c.last_checked_at.is_(None),
                _registry.c.last_checked_at
                <= sa.bindparam("key_checked_at", type_=models.UTC_TIME),
            ),
        )
        .values(
            last_check_state=sa.bindparam("state"),
            last_checked_at=sa.bindparam("checked_at", type_=models.UTC_TIME),
            last_check_reason=sa.bindparam("reason"),
        ),
    )


def registry_check_values(
    namespace_id: int, host: str, verification: Verification
) -> dict[str, object]:
    return {
        "key_namespace_id": namespace_id,
        "key_host": host,
        "key_checked_at": verification.checked_at,
        "state": verification.state.value,
        "checked_at": verification.checked_at,
        "reason": verification.reason,
    }


class CheckStore:
    def __init__(self, engine: sa.Engine) -> None:
        self._reader = Reader(engine)
        self._writer = Writer(engine, threads=1)
        self._due = PreparedStatement(
            engine,
            sa.select(
                _repo.c.id,
                _repo.c.namespace_id,
                _repo.c.name,
                _repo.c.username_encrypted,
                _repo.c.password_encrypted,
                _repo.c.key_id,
                _repo.c.updated_at,
                _repo.c.next_check_at,
                _repo.c.check_failures,
            )
            .where(_repo.c.next_check_at <= sa.bindparam("now", type_=models.UTC_TIME))
            .order_by(_repo.c.next_check_at)
            .limit(sa.bindparam("limit", type_=sa.Integer)),
        )
        self._claim = PreparedStatement(
            engine,
            _repo.update()
            .where(
                _repo.c.id == sa.bindparam("key_id"),
                _repo.c.next_check_at == sa.bindparam("key_next", type_=models.UTC_TIME),
            )
            .values(next_check_at=sa.bindparam("lease_until", type_=models.UTC_TIME)),
        )
        self._record = PreparedStatement(
            engine,
            _repo.update()
            .where(
                _repo.c.id == sa.bindparam("key_id"),
                _repo.c.updated_at == sa.bindparam("key_updated_at", type_=models.UTC_TIME),
            )
            .values(
                verification_state=sa.bindparam("state"),
                checked_at=sa.bindparam("checked_at", type_=models.UTC_TIME),
                verification_reason=sa.bindparam("reason"),
                next_check_at=sa.bindparam("next_check_at", type_=models.UTC_TIME),
                check_failures=sa.bindparam("failures"),
            ),
        )
        self._record_registry = registry_check_statement(engine)
        self._unscheduled = PreparedStatement(
            engine,
            _repo.update()
            .where(_repo.c.next_check_at.is_(None))
            .values(next_check_at=sa.bindparam("now", type_=models.UTC_TIME)),
        )

    def close(self) -> None:
        self._writer.close()
        self._reader.close()

    async def schedule_unscheduled(self, now: datetime) -> int:
        """Make every repository without a due time due at `now`; how many."""
        return await self._writer.run(
            lambda cursor: self._unscheduled.execute_on(cursor, {"now": now})
        )

    def due(self, now: datetime, limit: int) -> list[DueCheck]:
        """Up to `limit` repositories whose re-check is due at `now`, oldest first."""
        values = {"now": now, "limit": limit}
        rows = self._reader.run(lambda cursor: self._due.all_on(cursor, values))
        return [
            DueCheck(
                row[0],
                row[1],
                row[2],
                EncryptedCredentials(row[3], row[4], row[5] or ""),
                row[6],
                row[7],
                row[8],
            )
            for row in rows
        ]

    async def claim(self, due: DueCheck, lease_until: datetime) -> bool:
        """Take `due` for this server until `lease_until` (when another may take it
        again if this one never records an outcome); False if another took it."""
        values = {
            "key_id": due.repository_id,
            "key_next": due.next_check_at,
            "lease_until": lease_until,
        }
        return await self._writer.run(lambda cursor: self._claim.execute_on(cursor, values)) == 1

    async def record(
        self,
        due: DueCheck,
        host: str,
        verification: Verification,
        *,
        next_check_at: datetime | None,
        failures: int,
    ) -> bool:
        """Store the outcome on the repository (and as its host's latest check), if
        the repository still holds the credentials that were checked."""
        values = {
            "key_id": due.repository_id,
            "key_updated_at": due.updated_at,
            "state": verification.state.value,
            "checked_at": verification.checked_at,
            "reason": verification.reason,
            "next_check_at": next_check_at,
            "failures": failures,
        }
        registry_values = registry_check_values(due.namespace_id, host, verification)

        def work(cursor) -> bool:
            if self._record.execute_on(cursor, values) != 1:
                return False  # deleted, or its credentials changed meanwhile
            self._record_registry.execute_on(cursor, registry_values)
            return True

        return await self._writer.run(work)
