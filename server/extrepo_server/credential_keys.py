"""The server's credential keys: where they come from, the proof at start that they
open what the database stores, and re-encryption under the primary key.

Why it is this strict: a server that starts without the key its stored credentials
need (a lost key file, a wrong EXTREPO_SECRET_KEYS) would encrypt new rows under
another key, leave rows under two keys after a password-only update, and make every
old credential unreadable; nothing would say so until a pull failed. So:

- A key file is generated only for a database that holds no credentials; a missing
  key file with credentials stored refuses the start, saying how to recover.
- At start, the keyring must hold every key the rows need: the database records each
  key's id and check value (storage/keys.py), so the proof costs one lookup per key,
  not a decryption per row. The primary key is then recorded, and every write names
  it (a foreign key): a write under a key the database does not know is refused by
  the database, at no measurable cost per call.
- Rows stored before key ids were recorded are adopted once, at the first start: the
  key that opens each row is found and recorded.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from .config import Settings
from .domain.ports import EncryptedCredentials
from .security.credentials import (
    Keyring,
    KeyringError,
    keyring_from_list,
    load_key_file,
    new_key,
    write_key_file,
)
from .storage.keys import KeyRecords
from .storage.reencryption import CredentialRows, StoredRow

log = logging.getLogger("extrepo.keys")

# How many failed rows a message or a report names before it only counts.
_NAMED_ROWS = 5


def _recover(path: Path) -> str:
    return (
        f"restore the key file (from a backup) to {path}, or set EXTREPO_SECRET_KEYS to "
        "the keys (comma-separated, newest first)"
    )


def load_keyring(settings: Settings, engine: sa.Engine) -> Keyring:
    """The configured keyring: EXTREPO_SECRET_KEYS, else the key file, else a new key
    file, but only while the database holds no credentials."""
    if settings.secret_keys:
        return keyring_from_list(settings.secret_keys)
    path = settings.effective_key_file
    if path.exists():
        return load_key_file(path)
    records = KeyRecords(engine)
    if records.holds_credentials():
        needed = ", ".join(sorted(records.in_use())) or "not recorded yet"
        raise KeyringError(
            f"the key file {path} is missing, but the database holds "
            f"{records.repository_count()} repositories' credentials encrypted with it "
            f"(key ids: {needed}); without it they cannot be read, so the server does not "
            f"start. To recover: {_recover(path)}. A new key is made only for an empty database"
        )
    if _create_key_file(path):
        log.info("created a new credential key file", extra={"path": str(path)})
    return load_key_file(path)


def _create_key_file(path: Path) -> bool:
    """Write a new key file unless one appeared meanwhile (another process starting
    at the same moment): never replace a key that something may already use."""
    tmp = path.with_name(f"{path.name}.new.{os.getpid()}")
    write_key_file(tmp, [new_key()])
    try:
        os.link(tmp, path)  # fails if the file exists: an exclusive create
    except FileExistsError:
        return False
    finally:
        tmp.unlink()
    return True


def verify_keyring(keyring: Keyring, engine: sa.Engine, settings: Settings) -> None:
    """Refuse (KeyringError) a keyring that lacks a key the stored credentials need;
    then record its primary key, and adopt rows stored before key ids were recorded."""
    records = KeyRecords(engine)
    missing = sorted(k for k, check in records.in_use().items() if not keyring.holds(k, check))
    if missing:
        counts = ", ".join(f"{k} ({records.count_under(k)} repositories)" for k in missing)
        raise KeyringError(
            f"stored credentials need encryption keys that {keyring.source} does not hold: "
            f"{counts}; without them they cannot be read, so the server does not start. "
            f"To recover: {_recover_for(settings)}"
        )
    register_primary(keyring, records)
    if records.unrecorded_rows():
        outcome = adopt_unrecorded(keyring, engine)
        log.info(
            "recorded the keys of credentials stored before key ids were",
            extra={"rows": outcome.rewritten},
        )
        if outcome.failures:
            raise KeyringError(
                f"{len(outcome.failures)} repositories' credentials (stored before key ids "
                f"were recorded) open with no key in {keyring.source}, e.g. "
                f"{_names(outcome.failures)}; the server does not start without their key. "
                f"To recover: {_recover_for(settings)}"
            )


def _recover_for(settings: Settings) -> str:
    if settings.secret_keys:
        return (
            "add the missing keys to EXTREPO_SECRET_KEYS (comma-separated, newest first; "
            "every server sharing this database needs them), or restore the key file that "
            "holds them and unset EXTREPO_SECRET_KEYS"
        )
    return _recover(settings.effective_key_file)


def register_primary(keyring: Keyring, records: KeyRecords) -> None:
    """Record the primary key's id and check value, so writes under it are accepted."""
    recorded = records.register(keyring.key_id, keyring.check_value(keyring.key_id))
    if not keyring.holds(keyring.key_id, recorded):  # two keys with one id: never seen
        raise KeyringError(
            f"the database records another key under this key's id {keyring.key_id}; "
            "make a new key (extrepo-server admin secrets rotate)"
        )


@dataclass
class RowFailure:
    namespace: str
    name: str
    key_id: str  # recorded, "" for none

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name} (recorded key id {self.key_id or 'none'})"


@dataclass
class Outcome:
    """What a pass over the rows did: rows rewritten, rows no key opened (left as they
    were), and rows a server changed meanwhile (left as that server wrote them)."""

    rewritten: int = 0
    failures: list[RowFailure] = field(default_factory=list)
    changed_meanwhile: int = 0


def _names(failures: list[RowFailure]) -> str:
    shown = ", ".join(str(f) for f in failures[:_NAMED_ROWS])
    more = len(failures) - _NAMED_ROWS
    return shown + (f" and {more} more" if more > 0 else "")


def reencrypt(keyring: Keyring, engine: sa.Engine) -> Outcome:
    """Re-encrypt every row not under the primary key with it, row by row: a row no
    key opens is reported and left as it is, and the others go on."""
    register_primary(keyring, KeyRecords(engine))

    def change(row: StoredRow) -> EncryptedCredentials | None:
        username = keyring.rewrap(row.credentials.username)
        password = keyring.rewrap(row.credentials.password)
        if username is None or password is None:
            return None
        return EncryptedCredentials(username, password, keyring.key_id)

    rows = CredentialRows(engine)
    return _rewrite(rows, rows.batches(not_under=keyring.key_id), change)


def adopt_unrecorded(keyring: Keyring, engine: sa.Engine) -> Outcome:
    """Record the key of each row stored before key ids were: the key that opens both
    of its tokens (recorded as well), or, for a row whose tokens need two keys (a key
    lost and replaced by a server of an older version), both re-encrypted under the
    primary key. Rows no key opens are failures, left as they are."""
    records = KeyRecords(engine)
    registered: set[str] = set()

    def change(row: StoredRow) -> EncryptedCredentials | None:
        old = row.credentials
        username_key, password_key = keyring.opener(old.username), keyring.opener(old.password)
        if username_key is None or password_key is None:
            return None
        if username_key != password_key:
            username, password = keyring.rewrap(old.username), keyring.rewrap(old.password)
            assert username is not None and password is not None  # both opened above
            return EncryptedCredentials(username, password, keyring.key_id)
        if username_key not in registered:
            records.register(username_key, keyring.check_value(username_key))
            registered.add(username_key)
        return EncryptedCredentials(old.username, old.password, username_key)

    rows = CredentialRows(engine)
    return _rewrite(rows, rows.batches(unrecorded_only=True), change)


def _rewrite(rows: CredentialRows, batches: Iterable[list[StoredRow]], change) -> Outcome:
    outcome = Outcome()
    for batch in batches:
        changes = []
        for row in batch:
            new = change(row)
            if new is None:
                outcome.failures.append(RowFailure(row.namespace, row.name, row.credentials.key_id))
            else:
                changes.append((row, new))
        written = rows.rewrite(changes)
        outcome.rewritten += sum(written)
        outcome.changed_meanwhile += len(written) - sum(written)
    return outcome
