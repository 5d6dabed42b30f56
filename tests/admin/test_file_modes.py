"""The server's files are its owner's only: the SQLite database and the -wal and -shm
files beside it (0600), like the key file, in a data directory others cannot enter.
They hold API key hashes and encrypted credentials."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

from harness.live_server import REPO_ROOT, LiveServer
from tests.support.api import grpc_api


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_sqlite_files_and_the_data_directory_are_owner_only(tmp_path):
    data = tmp_path / "data"  # made by the server itself
    database = data / "extrepo.db"
    # The harness keeps its port and log files apart, in a directory of its own.
    with LiveServer(
        tmp_path / "harness",
        database_url=f"sqlite:///{database}",
        env={"EXTREPO_SECRET_KEY_FILE": str(data / "secret.key")},
    ) as server:
        server.admin("user", "create", "ola")
        api = grpc_api(server, "ola", server.admin("key", "create", "ola").strip())
        api.create("modes.example.com/app", "u", "p")  # the server's own write: WAL in use
        files = {p.name: _mode(p) for p in data.iterdir()}
        assert {"extrepo.db", "extrepo.db-wal", "extrepo.db-shm", "secret.key"} <= set(files)
        assert set(files.values()) == {0o600}, files
        assert _mode(data) & 0o077 == 0, f"data directory mode {_mode(data):o}"


def test_files_left_readable_by_an_older_version_are_made_owner_only(tmp_path):
    migrate = [sys.executable, "-m", "extrepo_server", "migrate", "--data-dir", str(tmp_path)]
    subprocess.run(migrate, cwd=REPO_ROOT, check=True, capture_output=True, timeout=120)
    database = tmp_path / "extrepo.db"
    assert _mode(database) == 0o600
    os.chmod(database, 0o644)
    with LiveServer(tmp_path) as server:
        assert _mode(database) == 0o600
        assert server.wait_for_log(lambda e: e.get("msg") == "made a database file owner-only")
