"""The database's record of credential keys (table credential_key): each key's id and
check value, never the key, and which of them the stored rows still need.

Every repository row names its key (a foreign key to this table), so:
- a server proves at start that its keyring holds every key in use (keys.py);
- a write under a key the database does not know (one that `secrets prune` retired
  while a server still encrypts with it) is refused by the database itself, at the
  cost of one primary-key lookup inside the write, and answered UNAVAILABLE here;
- pruning a key that a row still needs fails in the same way, atomically.

Rare work (start, administration, a refused write): SQLAlchemy Connections.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlalchemy.exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite

from ..domain.errors import FailedPrecondition, Unavailable
from ..domain.ports import EncryptedCredentials
from . import models
from .connections import read_retrying_once, transaction
from .errors import is_foreign_key_violation

log = logging.getLogger("extrepo.keys")

_key = models.CredentialKey.__table__
_repo = models.Repository.__table__

RETIRED_KEY_MESSAGE = (
    "this server cannot store credentials right now (its encryption key was retired); retry shortly"
)


class KeyRecords:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def _read(self, read):
        return read_retrying_once(self._engine, read)

    # -- what the rows need ----------------------------------------------------

    def holds_credentials(self) -> bool:
        """Any repository row exists (so some key is needed to read it)."""
        statement = sa.select(sa.literal(1)).select_from(_repo).limit(1)
        return self._read(lambda conn: conn.execute(statement).first() is not None)

    def repository_count(self) -> int:
        statement = sa.select(sa.func.count()).select_from(_repo)
        return self._read(lambda conn: conn.execute(statement).scalar_one())

    def registered(self) -> dict[str, str]:
        """Every recorded key id and its check value."""
        statement = sa.select(_key.c.id, _key.c.check_value)
        return self._read(lambda conn: dict(conn.execute(statement).all()))

    def in_use(self) -> dict[str, str]:
        """The recorded keys that at least one row needs. Each lookup stops at the first
        row of its key; a key that no row has any more costs a scan of the table (~0.1 s
        per million rows here), paid at start and in administration only, instead of an
        index on key_id that every Create would pay for (~5 us on SQLite)."""
        needed = {}
        for key_id, check_value in self.registered().items():
            if self.sample(key_id) is not None:
                needed[key_id] = check_value
        return needed

    def unrecorded_rows(self) -> bool:
        """Rows written before key ids were recorded (migration 0002) remain."""
        statement = sa.select(sa.literal(1)).where(_repo.c.key_id.is_(None)).limit(1)
        return self._read(lambda conn: conn.execute(statement).first() is not None)

    def count_under(self, key_id: str) -> int:
        statement = sa.select(sa.func.count()).where(_repo.c.key_id == key_id)
        return self._read(lambda conn: conn.execute(statement).scalar_one())

    def count_not_under(self, key_id: str) -> dict[str | None, int]:
        """How many rows each key other than `key_id` holds (None: not recorded)."""
        statement = (
            sa.select(_repo.c.key_id, sa.func.count())
            .where(_repo.c.key_id.is_distinct_from(key_id))
            .group_by(_repo.c.key_id)
        )
        return self._read(lambda conn: dict(conn.execute(statement).all()))

    def sample(self, key_id: str) -> EncryptedCredentials | None:
        """One row's credentials under that key, if any row has it."""
        statement = (
            sa.select(_repo.c.username_encrypted, _repo.c.password_encrypted)
            .where(_repo.c.key_id == key_id)
            .limit(1)
        )
        row = self._read(lambda conn: conn.execute(statement).first())
        return None if row is None else EncryptedCredentials(row[0], row[1], key_id)

    def is_registered(self, key_id: str) -> bool:
        statement = sa.select(_key.c.id).where(_key.c.id == key_id)
        return self._read(lambda conn: conn.execute(statement).first() is not None)

    # -- changes -------------------------------------------------------------

    def register(self, key_id: str, check_value: str) -> str:
        """Record a key (if it is not yet); the check value recorded for that id, which
        differs from `check_value` only if another key has the same id."""
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        insert = (
            dialect.insert(_key)
            .values(id=key_id, check_value=check_value, created_at=datetime.now(UTC))
            .on_conflict_do_nothing(index_elements=["id"])
        )
        with transaction(self._engine) as conn:
            conn.execute(insert)
            return conn.execute(
                sa.select(_key.c.check_value).where(_key.c.id == key_id)
            ).scalar_one()

    def retire_all_but(self, key_id: str) -> list[str]:
        """Forget every key but `key_id`, in one transaction; FailedPrecondition (and
        nothing forgotten) if a row still needs one of them: the foreign key decides,
        so a row written meanwhile under an old key cannot slip through."""
        try:
            with transaction(self._engine) as conn:
                retired = list(
                    conn.execute(sa.select(_key.c.id).where(_key.c.id != key_id)).scalars()
                )
                conn.execute(_key.delete().where(_key.c.id != key_id))
        except sa_exc.IntegrityError as exc:
            if not is_foreign_key_violation(exc):
                raise
            raise FailedPrecondition(
                "a credential was written under an old key meanwhile (a server with the old "
                "keyring is still running); restart the servers, run 'secrets reencrypt', "
                "then prune"
            ) from None
        return retired


@contextmanager
def refuse_unknown_key(engine: sa.Engine, key_id: str) -> Iterator[None]:
    """Around a credential write under `key_id`: if the database refused it because it
    does not know that key (retired by `secrets prune` while this server still encrypts
    with it), answer Unavailable, and tell the operator what to do."""
    try:
        yield
    except (sa_exc.IntegrityError, engine.dialect.loaded_dbapi.IntegrityError) as exc:
        # The foreign key on the namespace may fail too; only a key unknown is ours.
        if not is_foreign_key_violation(exc) or KeyRecords(engine).is_registered(key_id):
            raise
        log.error(
            "credential write refused: the database no longer knows this server's encryption "
            "key (retired by 'secrets prune'); restart the server with the current keys",
            extra={"key_id": key_id},
        )
        raise Unavailable(RETIRED_KEY_MESSAGE, reason="ENCRYPTION_KEY_RETIRED") from None
