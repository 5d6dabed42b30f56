"""Fixtures for the Python client's tests: a fresh user on the session's real server,
the SDK configured for it, and the installed `extrepo` command run as a process.

Every test here starts from a clean slate: no EXTREPO_* or DOCKERCLOUD_* variables
and a config folder of its own (XDG_CONFIG_HOME), so nothing on the machine leaks in.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import extrepo
import grpc
import pytest

from harness.live_server import LiveServer

EXTREPO = str(Path(sys.executable).parent / "extrepo")
_repo_names = itertools.count(1)


def clean_environ(config_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EXTREPO_", "DOCKERCLOUD_"))}
    env["XDG_CONFIG_HOME"] = str(config_home)
    return env


@pytest.fixture(autouse=True)
def clean_slate(monkeypatch, tmp_path) -> Path:
    """This process's environment as clean_environ makes it; returns the config folder."""
    config_home = tmp_path / "xdg-config"
    for key in list(os.environ):
        if key.startswith(("EXTREPO_", "DOCKERCLOUD_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))
    for attribute in ("address", "user", "apikey", "namespace"):
        monkeypatch.setattr(extrepo, attribute, None)
    return config_home


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Iterator[LiveServer]:
    """The clients' own server, on SQLite: a client sees only gRPC, so the database
    behind it is the API and storage tests' concern (they run on both)."""
    with LiveServer(tmp_path_factory.mktemp("clients-server")) as live:
        yield live


@pytest.fixture
def config_home(clean_slate) -> Path:
    return clean_slate


@pytest.fixture
def config_file(config_home) -> Path:
    """Where `extrepo login` stores its settings in these tests."""
    return config_home / "extrepo" / "config.json"


@pytest.fixture
def user(new_user):
    return new_user("py")


@pytest.fixture
def repo_name():
    """A fresh repository name each call (unique across the session)."""

    def make(prefix: str = "app") -> str:
        return f"registry.local/t{next(_repo_names)}x{os.getpid() % 1000}/{prefix}"

    return make


@pytest.fixture
def client(server, user) -> Iterator[extrepo.Client]:
    with extrepo.Client(server.address, username=user.name, api_key=user.api_key) as c:
        yield c


class Recorder(grpc.UnaryUnaryClientInterceptor):
    """Records each call the client sends: (method, request)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def intercept_unary_unary(self, continuation, client_call_details, request):
        self.calls.append((client_call_details.method.rsplit("/", 1)[-1], request))
        return continuation(client_call_details, request)

    def methods(self) -> list[str]:
        return [m for m, _ in self.calls]


@pytest.fixture
def recorded(server, user) -> Iterator[tuple[extrepo.Client, Recorder]]:
    """A client whose calls are recorded as they leave it."""
    recorder = Recorder()
    with extrepo.Client(
        server.address, username=user.name, api_key=user.api_key, interceptors=[recorder]
    ) as c:
        yield c, recorder


@dataclass
class Cli:
    """The installed `extrepo` command, run as a person would in a shell."""

    env: dict[str, str]
    cwd: Path
    calls: list[list[str]] = field(default_factory=list)

    def __call__(
        self, *args: str, input: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(args))
        return subprocess.run(
            [EXTREPO, *args],
            input=input if input is not None else "",
            env={**self.env, **(env or {})},
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def ok(self, *args: str, **kwargs) -> str:
        result = self(*args, **kwargs)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result.stdout


@pytest.fixture
def bare_cli(config_home, tmp_path) -> Cli:
    """`extrepo` with no settings at all."""
    return Cli(clean_environ(config_home), tmp_path)


@pytest.fixture
def cli(bare_cli, server, user) -> Cli:
    """`extrepo` with the server and the user's credentials in EXTREPO_* variables."""
    env = {
        **bare_cli.env,
        "EXTREPO_ADDRESS": server.address,
        "EXTREPO_USERNAME": user.name,
        "EXTREPO_API_KEY": user.api_key,
    }
    return Cli(env, bare_cli.cwd)


def closed_address() -> str:
    """A loopback port nothing listens on."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"
