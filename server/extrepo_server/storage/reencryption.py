"""Stored credentials as the administration reads and rewrites them: decrypting
one repository's for an operator, re-encrypting all of them under a new key.

Kept apart from the API's store (repositories.py): these run from the admin
command, never on a call's path, and on SQLAlchemy Connections.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from ..domain.errors import NotFound
from ..domain.ports import EncryptedCredentials
from . import models
from .connections import read_retrying_once, transaction

_repo = models.Repository.__table__


class CredentialRows:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def get(self, namespace_id: int, name: str) -> EncryptedCredentials:
        """One repository's encrypted credentials."""
        statement = sa.select(_repo.c.username_encrypted, _repo.c.password_encrypted).where(
            _repo.c.namespace_id == namespace_id, _repo.c.name == name
        )
        row = read_retrying_once(self._engine, lambda conn: conn.execute(statement).first())
        if row is None:
            raise NotFound(f"repository '{name}' not found")
        return EncryptedCredentials(*row)

    def all(self) -> Sequence[tuple[int, EncryptedCredentials]]:
        """Every row's id and encrypted credentials."""
        statement = sa.select(_repo.c.id, _repo.c.username_encrypted, _repo.c.password_encrypted)
        with transaction(self._engine) as conn:
            return [
                (r.id, EncryptedCredentials(r.username_encrypted, r.password_encrypted))
                for r in conn.execute(statement)
            ]

    def replace(self, rows: Sequence[tuple[int, EncryptedCredentials]]) -> None:
        """Write new encrypted credentials to the rows of those ids, in one transaction."""
        if not rows:
            return
        statement = (
            _repo.update()
            .where(_repo.c.id == sa.bindparam("row_id"))
            .values(username_encrypted=sa.bindparam("u"), password_encrypted=sa.bindparam("p"))
        )
        with transaction(self._engine) as conn:
            conn.execute(
                statement, [{"row_id": i, "u": c.username, "p": c.password} for i, c in rows]
            )
