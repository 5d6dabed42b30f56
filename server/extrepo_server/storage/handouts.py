"""The record of pull access handed to mesh services (domain.ports.HandoutLog):
append-only rows, never a secret; and a reader for the tests and the audit log."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import sqlalchemy as sa

from ..domain.access import NamespaceGrant
from ..domain.ports import PullKind
from . import models
from .connections import Writer
from .statements import PreparedStatement

_handout = models.PullHandout.__table__
log = logging.getLogger("extrepo.handouts")


class HandoutStore:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._writer = Writer(engine, threads=1)
        self._insert = PreparedStatement(
            engine,
            _handout.insert()
            .inline()
            .values(
                namespace_id=sa.bindparam("namespace_id"),
                repository=sa.bindparam("repository"),
                identity=sa.bindparam("identity"),
                kind=sa.bindparam("kind"),
                created_at=sa.bindparam("created_at"),
            ),
        )

    def close(self) -> None:
        self._writer.close()

    async def record(
        self, namespace: NamespaceGrant, repository: str, identity: str, kind: PullKind
    ) -> None:
        values = {
            "namespace_id": namespace.account_id,
            "repository": repository,
            "identity": identity,
            "kind": kind.value,
            "created_at": datetime.now(UTC),
        }
        await self._writer.run(lambda cursor: self._insert.execute_on(cursor, values))
        log.info(
            "pull access handed out",
            extra={
                "namespace": namespace.namespace,
                "repository": repository,
                "identity": identity,
                "kind": kind.value,
            },
        )
