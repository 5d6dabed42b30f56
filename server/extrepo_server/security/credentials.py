"""Encryption of registry credentials at rest, with Fernet (AES-128-CBC + HMAC-SHA256).

A keyring holds one or more Fernet keys: the first encrypts, every one decrypts
(cryptography's MultiFernet). Rotation puts a new key first, re-encrypts every row,
and only then lets the old keys go - so no stored credential is ever unreadable.

Every key has an id and a check value, both HMAC-SHA256 of a constant under the key:
the database records them (never the key) beside the rows each key encrypted, so a
server can prove at start that its keyring holds every key the stored credentials
need (see keys.py), and a Fernet token, which names no key, can be traced to one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

# 64 bits: enough to tell a handful of keys apart; the check value is the full proof.
_KEY_ID_BYTES = 8
_KEY_ID_LABEL = b"extrepo credential key id v1"
_CHECK_LABEL = b"extrepo credential key check v1"


class KeyringError(Exception):
    """The configured keys are unusable (malformed, missing, not the database's)."""


def _derive(key: str, label: bytes) -> bytes:
    return hmac.new(base64.urlsafe_b64decode(key), label, hashlib.sha256).digest()


def key_id_of(key: str) -> str:
    """The public id of a Fernet key: what the database stores beside its rows."""
    return _derive(key, _KEY_ID_LABEL)[:_KEY_ID_BYTES].hex()


def check_value_of(key: str) -> str:
    """A value only the holder of `key` can compute, stored once per key id."""
    return _derive(key, _CHECK_LABEL).hex()


class Keyring:
    def __init__(self, keys: list[str], *, source: str = "the configured keys") -> None:
        if not keys:
            raise KeyringError(f"no encryption key is configured in {source}")
        try:
            self._fernets = [Fernet(k.encode()) for k in keys]
        except (ValueError, TypeError) as exc:
            raise KeyringError(
                f"an encryption key in {source} is not a valid Fernet key "
                "(32 url-safe base64 bytes)"
            ) from exc
        self.keys = list(keys)
        # Where the keys came from, for messages: "the key file ...", "EXTREPO_SECRET_KEYS".
        self.source = source
        self.key_ids = [key_id_of(k) for k in keys]
        self._by_id: dict[str, str] = {}
        for key_id, key in zip(self.key_ids, keys, strict=True):
            self._by_id.setdefault(key_id, key)
        self._multi = MultiFernet(self._fernets)

    @property
    def key_id(self) -> str:
        """The id of the primary key, the one `encrypt` uses."""
        return self.key_ids[0]

    def holds(self, key_id: str, check_value: str) -> bool:
        """This keyring has the key of that id, and it is the key that check value proves."""
        key = self._by_id.get(key_id)
        return key is not None and hmac.compare_digest(check_value_of(key), check_value)

    def check_value(self, key_id: str) -> str:
        return check_value_of(self._by_id[key_id])

    def encrypt(self, plaintext: str) -> str:
        return self._fernets[0].encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._multi.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise KeyringError("a stored credential cannot be decrypted with any key") from exc

    def reveal(self, token: str) -> str | None:
        """The plaintext of `token`, or None if no key of this keyring opens it: for a
        credential check, the only reason a stored credential is ever decrypted."""
        try:
            return self._multi.decrypt(token.encode()).decode()
        except InvalidToken:
            return None

    def opener(self, token: str) -> str | None:
        """The id of the first key of this keyring that decrypts `token`, or None."""
        for key_id, fernet in zip(self.key_ids, self._fernets, strict=True):
            try:
                fernet.decrypt(token.encode())
            except InvalidToken:
                continue
            return key_id
        return None

    def rewrap(self, token: str) -> str | None:
        """The same plaintext, encrypted with the primary key; None if no key opens it."""
        try:
            return self._multi.rotate(token.encode()).decode()
        except InvalidToken:
            return None


def new_key() -> str:
    return Fernet.generate_key().decode()


def read_key_file(path: Path) -> list[str]:
    """Keys from a key file: one per line, the first is the primary."""
    keys = [line.strip() for line in path.read_text().splitlines()]
    return [k for k in keys if k and not k.startswith("#")]


def write_key_file(path: Path, keys: list[str]) -> None:
    """Write keys atomically and durably, readable by the owner only.

    Durably: a row is encrypted under a new key only after that key is on disk, so
    the file's content and its directory entry are synced before it is used.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("# extrepo credential encryption keys; the first one encrypts\n")
        handle.write("".join(f"{k}\n" for k in keys))
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def check_key_file_mode(path: Path) -> None:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise KeyringError(
            f"key file {path} is readable by others (mode {mode:o}); run: chmod 600 {path}"
        )


def load_key_file(path: Path) -> Keyring:
    """The keyring of an existing key file (refused if others may read it)."""
    check_key_file_mode(path)
    return Keyring(read_key_file(path), source=f"the key file {path}")


def keyring_from_list(value: str) -> Keyring:
    """The keyring of EXTREPO_SECRET_KEYS: comma-separated keys, newest first."""
    keys = [k.strip() for k in value.split(",") if k.strip()]
    return Keyring(keys, source="EXTREPO_SECRET_KEYS")
