"""A throwaway PostgreSQL cluster from the binaries on the machine, for tests.

`PostgresCluster().start()` runs initdb into a fresh temporary directory and
pg_ctl start on a free 127.0.0.1 port (trust authentication, loopback only);
`stop()`/`start()` stop and restart the same cluster on the same port (the outage
tests), `destroy()` stops it and removes the directory.

PostgreSQL refuses to run as root. As root (CI), the cluster's directory belongs to
an unprivileged user (`postgres` if it exists, else `nobody`) and initdb/pg_ctl run
as that user through `setpriv`.

The binaries: $EXTREPO_PG_BIN, else the newest /usr/lib/postgresql/*/bin. Missing
binaries are an error, never a skip (.ci/run installs Debian's postgresql).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

SUPERUSER = "extrepo"


def find_bindir() -> Path:
    explicit = os.environ.get("EXTREPO_PG_BIN")
    candidates = [Path(explicit)] if explicit else []
    candidates += sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    raise RuntimeError(
        "PostgreSQL binaries not found (looked at $EXTREPO_PG_BIN and "
        "/usr/lib/postgresql/*/bin); install them: apt-get install -y postgresql"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_as_user() -> pwd.struct_passwd:
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("running as root and no unprivileged user (postgres, nobody) to run as")


def _run_as() -> list[str]:
    """The command prefix that drops root; empty when not root."""
    if os.geteuid() != 0:
        return []
    user = _run_as_user()
    return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups", "--"]


class PostgresCluster:
    def __init__(self) -> None:
        self.bindir = find_bindir()
        self.port: int | None = None
        self._dir: Path | None = None

    @property
    def datadir(self) -> Path:
        assert self._dir is not None
        return self._dir / "data"

    @property
    def logfile(self) -> Path:
        assert self._dir is not None
        return self._dir / "postgres.log"

    def _pg(self, tool: str, *args: str, timeout: float = 120) -> None:
        result = subprocess.run(
            [*_run_as(), str(self.bindir / tool), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            # The unprivileged user may not be able to enter our working directory.
            cwd=self._dir,
        )
        if result.returncode != 0:
            log = self.logfile.read_text()[-3000:] if self.logfile.exists() else ""
            raise RuntimeError(f"{tool} failed ({result.returncode}):\n{result.stderr}\n{log}")

    def start(self) -> PostgresCluster:
        if self._dir is None:
            # Not under pytest's (root-only) temporary directory: the server's user
            # must be able to reach it.
            self._dir = Path(tempfile.mkdtemp(prefix="extrepo-pg-"))
            self._dir.chmod(0o755)
            if os.geteuid() == 0:
                user = _run_as_user()
                os.chown(self._dir, user.pw_uid, user.pw_gid)
            self._pg(
                "initdb",
                "-D",
                str(self.datadir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            )
        attempts = 3 if self.port is None else 1
        for attempt in range(attempts):
            port = self.port or _free_port()
            try:
                self._pg(
                    "pg_ctl",
                    "start",
                    "-w",
                    "-t",
                    "60",
                    "-D",
                    str(self.datadir),
                    "-l",
                    str(self.logfile),
                    "-o",
                    # Loopback TCP only, socket in the cluster's own directory; fsync
                    # off: the tests never survive a machine crash anyway.
                    f"-p {port} -c listen_addresses=127.0.0.1 -k {self._dir} "
                    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                    "-c max_connections=200",
                )
            except RuntimeError:
                if attempt + 1 == attempts:
                    raise
                continue
            self.port = port
            return self
        raise AssertionError("unreachable")

    def stop(self, mode: str = "fast") -> None:
        if self._dir is not None and (self.datadir / "postmaster.pid").exists():
            self._pg("pg_ctl", "stop", "-w", "-t", "60", "-m", mode, "-D", str(self.datadir))

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        finally:
            if self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)
                self._dir = None

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.destroy()

    # -- databases -----------------------------------------------------------

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of one database of this cluster."""
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; returns its URL."""
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def wait_accepting(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(
                    host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres"
                ).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
