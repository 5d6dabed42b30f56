"""A real extrepo server process on a free loopback port, for tests and client harnesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
from extrepo_server.admin import Admin
from extrepo_server.app import build
from extrepo_server.config import Settings
from extrepo_server.domain.access import Role
from grpc_health.v1 import health_pb2, health_pb2_grpc

REPO_ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_SECONDS = 60


class LiveServer:
    """`extrepo-server serve` on 127.0.0.1:0 with its own data directory.

    Accounts are made with the real `extrepo-server admin` command.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        database_url: str | None = None,
        env: dict[str, str] | None = None,
        tls_ca: bytes | None = None,
        address: str = "127.0.0.1:0",
    ) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.database_url = database_url
        # No drain on stop unless asked for: nothing watches a test server's health,
        # and the default (1 s) would add a second to every test that stops one.
        # Credential checks are off unless a test turns them on: the names tests
        # register (registry.local/...) are on no registry, and a check of each would
        # only wait for DNS. The tests of checks start registries and turn them on.
        self._env = {
            "EXTREPO_SHUTDOWN_DRAIN_SECONDS": "0",
            "EXTREPO_VERIFICATION": "off",
            **os.environ,
            **(env or {}),
        }
        self._env.pop("EXTREPO_ADDRESS", None)
        self._process: subprocess.Popen | None = None
        self.port: int | None = None
        self.log_path = self.data_dir / "server.log"
        # The CA of the public listener's certificate, when it serves TLS
        # (EXTREPO_TLS_CERT_FILE in env): health is then checked over TLS.
        self.tls_ca = tls_ca
        self._admin: Admin | None = None
        # Another server's address makes this one a second replica on its port (grpc
        # binds with SO_REUSEPORT on Linux: the kernel shares connections between them).
        self._address = address

    # -- process -------------------------------------------------------------

    def _cli(self, command: str, *args: str) -> list[str]:
        base = [sys.executable, "-m", "extrepo_server", command, "--data-dir", str(self.data_dir)]
        if self.database_url:
            base += ["--database-url", self.database_url]
        return [*base, *args]

    def start(self) -> LiveServer:
        port_file = self.data_dir / "port"
        port_file.unlink(missing_ok=True)
        log = open(self.log_path, "a")  # noqa: SIM115 - the child keeps it open
        self._process = subprocess.Popen(
            [*self._cli("serve", "--address", self._address, "--port-file", str(port_file))],
            env=self._env,
            stdout=log,
            stderr=log,
            cwd=REPO_ROOT,
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not port_file.exists():
            if self._process.poll() is not None:
                raise RuntimeError(f"server exited at start:\n{self.log_text()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"server did not start:\n{self.log_text()}")
            time.sleep(0.05)
        self.port = int(port_file.read_text())
        self._wait_serving(deadline)
        return self

    def channel(self) -> grpc.Channel:
        """A channel to the public listener (over TLS when it serves TLS)."""
        if self.tls_ca is None:
            return grpc.insecure_channel(self.address)
        credentials = grpc.ssl_channel_credentials(root_certificates=self.tls_ca)
        return grpc.secure_channel(self.address, credentials)

    def _wait_serving(self, deadline: float) -> None:
        with self.channel() as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while True:
                try:
                    reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=2)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    if time.monotonic() > deadline:
                        raise
                time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Signal the server and wait; returns its exit code."""
        if self._admin is not None:
            self._admin.components.engine.dispose()
            self._admin = None
        if self._process is None:
            return 0
        if self._process.poll() is None:
            self._process.send_signal(sig)
        try:
            code = self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            code = self._process.wait()
        self._process = None
        return code

    @property
    def process(self) -> subprocess.Popen | None:
        return self._process

    @property
    def address(self) -> str:
        assert self.port is not None, "server not started"
        return f"127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def log_entries(self) -> list[dict]:
        return [json.loads(line) for line in self.log_text().splitlines() if line.startswith("{")]

    def wait_for_log(self, predicate, timeout: float = 10) -> list[dict]:
        """The log entries matching `predicate`, once there is one (a call's line is
        written just after its answer is sent, so a test may read before it lands)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [entry for entry in self.log_entries() if predicate(entry)]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.02)

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- administration ------------------------------------------------------

    def admin(self, *args: str) -> str:
        """Run `extrepo-server admin ARGS`; returns stdout, raises with stderr on failure."""
        return self.admin_output(*args)[0]

    def admin_output(self, *args: str) -> tuple[str, str]:
        """Run `extrepo-server admin ARGS`; returns stdout and stderr (its messages),
        raises with stderr on failure."""
        result = subprocess.run(
            self._cli("admin", *args),
            env=self._env,
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            check=False,
        )
        if result.returncode != 0:
            raise AdminError(result.returncode, result.stderr.strip())
        return result.stdout, result.stderr

    @property
    def admin_api(self) -> Admin:
        """The same administration the admin command runs, in this process (fast).

        It opens the server's own database; `admin()` runs the real command line.
        """
        if self._admin is None:
            overrides = {"data_dir": self.data_dir}
            if self.database_url:
                overrides["database_url"] = self.database_url
            settings = Settings(**overrides)
            self._admin = Admin(build(settings), settings)
        return self._admin

    def create_user(self, name: str) -> str:
        """Create a user and an API key; returns the key."""
        self.admin_api.create_user(name)
        return self.create_key(name)

    def create_key(self, user: str) -> str:
        return self.admin_api.create_key(user).token

    def create_org(self, org: str, owner: str) -> None:
        self.admin_api.create_organization(org, owner)

    def add_member(self, org: str, user: str, role: str = "member") -> None:
        self.admin_api.set_member(org, user, Role(role))


class AdminError(Exception):
    def __init__(self, code: int, stderr: str) -> None:
        super().__init__(f"admin command failed ({code}): {stderr}")
        self.code = code
        self.stderr = stderr
