"""Helpers for the credential key cases: a start that must be refused, the key file's
keys, and what the database stores, read beside (not through) the server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from extrepo_server.security.credentials import Keyring, read_key_file
from extrepo_server.storage.database import create_engine
from extrepo_server.storage.keys import KeyRecords
from extrepo_server.storage.reencryption import CredentialRows, StoredRow

from harness.live_server import REPO_ROOT, LiveServer


def serve_refused(
    data_dir: Path, *, env: dict[str, str] | None = None, database_url: str | None = None
) -> str:
    """Run `extrepo-server serve`, which must refuse to start (exit 1, no traceback
    and no secret on stderr); its stderr."""
    command = [sys.executable, "-m", "extrepo_server", "serve", "--data-dir", str(data_dir)]
    if database_url:
        command += ["--database-url", database_url]
    result = subprocess.run(
        [*command, "--address", "127.0.0.1:0"],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    for key in (env or {}).get("EXTREPO_SECRET_KEYS", "").split(","):
        assert not key or key not in result.stderr, "a key in an error message"
    return result.stderr


def file_keys(server: LiveServer) -> list[str]:
    return read_key_file(server.data_dir / "secret.key")


def database_url(server: LiveServer) -> str:
    return server.database_url or f"sqlite:///{server.data_dir.resolve() / 'extrepo.db'}"


def stored(server: LiveServer) -> dict[str, StoredRow]:
    """Every repository row's stored credentials, by name."""
    engine = create_engine(database_url(server))
    try:
        return {row.name: row for batch in CredentialRows(engine).batches() for row in batch}
    finally:
        engine.dispose()


def recorded_keys(server: LiveServer) -> set[str]:
    engine = create_engine(database_url(server))
    try:
        return set(KeyRecords(engine).registered())
    finally:
        engine.dispose()


def opens(key: str, row: StoredRow) -> tuple[str, str] | None:
    """The row's username and password, if `key` alone opens both."""
    keyring = Keyring([key])
    if keyring.opener(row.credentials.username) and keyring.opener(row.credentials.password):
        return keyring.decrypt(row.credentials.username), keyring.decrypt(row.credentials.password)
    return None
