"""Encryption of registry credentials at rest, with Fernet (AES-128-CBC + HMAC-SHA256).

A keyring holds one or more Fernet keys: the first encrypts, every one decrypts
(cryptography's MultiFernet). Rotation puts a new key first, re-encrypts every row,
and only then lets the old keys go - so no stored credential is ever unreadable.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class KeyringError(Exception):
    """The configured keys are unusable (malformed, missing)."""


class Keyring:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise KeyringError("no encryption key is configured")
        try:
            self._fernets = [Fernet(k.encode()) for k in keys]
        except (ValueError, TypeError) as exc:
            raise KeyringError(
                "an encryption key is not a valid Fernet key (32 url-safe base64 bytes)"
            ) from exc
        self.keys = list(keys)
        self._multi = MultiFernet(self._fernets)

    def encrypt(self, plaintext: str) -> str:
        return self._multi.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._multi.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise KeyringError("a stored credential cannot be decrypted with any key") from exc

    def reencrypt(self, token: str) -> str:
        """The same plaintext, encrypted with the primary key."""
        try:
            return self._multi.rotate(token.encode()).decode()
        except InvalidToken as exc:
            raise KeyringError("a stored credential cannot be decrypted with any key") from exc

    def primary_decrypts(self, token: str) -> bool:
        try:
            self._fernets[0].decrypt(token.encode())
        except InvalidToken:
            return False
        return True


def new_key() -> str:
    return Fernet.generate_key().decode()


def read_key_file(path: Path) -> list[str]:
    """Keys from a key file: one per line, the first is the primary."""
    keys = [line.strip() for line in path.read_text().splitlines()]
    return [k for k in keys if k and not k.startswith("#")]


def write_key_file(path: Path, keys: list[str]) -> None:
    """Write keys atomically, readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("# extrepo credential encryption keys; the first one encrypts\n")
        handle.write("".join(f"{k}\n" for k in keys))
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def load_or_create_key_file(path: Path) -> list[str]:
    if not path.exists():
        write_key_file(path, [new_key()])
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise KeyringError(
            f"key file {path} is readable by others (mode {mode:o}); run: chmod 600 {path}"
        )
    return read_key_file(path)
