"""Stored credentials as the administration reads and rewrites them: decrypting
one repository's for an operator, re-encrypting rows under a new key.

Kept apart from the API's store (repositories.py): these run from the admin
command and at a server's start, never on a call's path, and on SQLAlchemy
Connections. Rows are read in batches in id order (a million rows never sit in
memory at once), and each is rewritten all or nothing: both tokens and the key id in
one UPDATE that applies only if the row has not changed since it was read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from ..domain.errors import NotFound
from ..domain.ports import EncryptedCredentials
from . import models
from .connections import read_retrying_once, transaction

_repo = models.Repository.__table__
_account = models.Account.__table__

BATCH_ROWS = 500


@dataclass(frozen=True)
class StoredRow:
    """A repository row's credentials as stored; `credentials.key_id` is "" for a row
    written before key ids were recorded."""

    id: int
    namespace: str
    name: str
    credentials: EncryptedCredentials


class CredentialRows:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def get(self, namespace_id: int, name: str) -> EncryptedCredentials:
        """One repository's encrypted credentials."""
        statement = sa.select(
            _repo.c.username_encrypted, _repo.c.password_encrypted, _repo.c.key_id
        ).where(_repo.c.namespace_id == namespace_id, _repo.c.name == name)
        row = read_retrying_once(self._engine, lambda conn: conn.execute(statement).first())
        if row is None:
            raise NotFound(f"repository '{name}' not found")
        return EncryptedCredentials(row[0], row[1], row[2] or "")

    def batches(
        self, *, not_under: str | None = None, unrecorded_only: bool = False
    ) -> Iterator[list[StoredRow]]:
        """Every row (or those whose key is not `not_under`, or those with no key id
        recorded), in id order, BATCH_ROWS at a time; each batch is read when the
        previous one has been handled, so rows rewritten meanwhile are not seen twice."""
        conditions = []
        if unrecorded_only:
            conditions.append(_repo.c.key_id.is_(None))
        elif not_under is not None:
            conditions.append(_repo.c.key_id.is_distinct_from(not_under))
        after = 0
        while True:
            statement = (
                sa.select(
                    _repo.c.id,
                    _account.c.name,
                    _repo.c.name,
                    _repo.c.username_encrypted,
                    _repo.c.password_encrypted,
                    _repo.c.key_id,
                )
                .join(_account, _account.c.id == _repo.c.namespace_id)
                .where(_repo.c.id > after, *conditions)
                .order_by(_repo.c.id)
                .limit(BATCH_ROWS)
            )
            rows = read_retrying_once(self._engine, lambda conn, s=statement: conn.execute(s).all())
            if not rows:
                return
            yield [
                StoredRow(r[0], r[1], r[2], EncryptedCredentials(r[3], r[4], r[5] or ""))
                for r in rows
            ]
            after = rows[-1][0]

    def rewrite(self, changes: Sequence[tuple[StoredRow, EncryptedCredentials]]) -> list[bool]:
        """Write each row's new credentials (and key id), in one transaction, each only
        if the row still holds what was read; for each, whether it was written (False:
        a server changed or deleted it meanwhile, and it keeps what that server wrote)."""
        if not changes:
            return []
        statement = (
            _repo.update()
            .where(
                _repo.c.id == sa.bindparam("row_id"),
                _repo.c.username_encrypted == sa.bindparam("old_u"),
                _repo.c.password_encrypted == sa.bindparam("old_p"),
                _repo.c.key_id.is_not_distinct_from(sa.bindparam("old_key_id")),
            )
            .values(
                username_encrypted=sa.bindparam("u"),
                password_encrypted=sa.bindparam("p"),
                key_id=sa.bindparam("new_key_id"),
            )
        )
        written = []
        with transaction(self._engine) as conn:
            for row, new in changes:
                old = row.credentials
                result = conn.execute(
                    statement,
                    {
                        "row_id": row.id,
                        "old_u": old.username,
                        "old_p": old.password,
                        "old_key_id": old.key_id or None,
                        "u": new.username,
                        "p": new.password,
                        "new_key_id": new.key_id,
                    },
                )
                written.append(result.rowcount == 1)
        return written
