"""The real REST gateway (clients/go/gateway/cmd/extrepo-gateway) on a free loopback port.

`start_gateway(grpc_address)` builds the binary with `go build` (a no-op when
the Go build cache is warm, and never a stale binary), starts it with port 0
and a port file, waits until its /healthz says the gRPC server is serving, and
returns the base URL and a function that stops it. Its other settings
(`-cors-origins`, `-read-timeout`, ...) are given as `args`, or as `env`
(EXTREPO_GATEWAY_*): the caller's own EXTREPO_* variables never reach it.
"""

from __future__ import annotations

import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# The gateway's own Go module (it requires the client module clients/go).
GO_DIR = REPO_ROOT / "clients" / "go" / "gateway"
GATEWAY_BIN = REPO_ROOT / "build" / "extrepo-gateway"
# A cold Go build cache (a fresh CI machine) compiles grpc and grpc-gateway.
BUILD_TIMEOUT_SECONDS = 600
START_TIMEOUT_SECONDS = 30


def build_gateway() -> Path:
    """Build the gateway binary from the work tree; returns its path."""
    go = shutil.which("go")
    if go is None:
        raise RuntimeError("the REST tests need Go to build the gateway (see clients/go)")
    GATEWAY_BIN.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [go, "build", "-o", str(GATEWAY_BIN), "./cmd/extrepo-gateway"],
        cwd=GO_DIR,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_SECONDS,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"go build of the gateway failed:\n{result.stderr}")
    return GATEWAY_BIN


def wait_healthy(
    base_url: str,
    deadline: float,
    process: subprocess.Popen | None = None,
    context: ssl.SSLContext | None = None,
) -> None:
    """Wait until GET {base_url}/healthz answers 200 (the gRPC server is serving)."""
    last: object = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"gateway exited with {process.returncode}")
        try:
            with urllib.request.urlopen(  # noqa: S310 - our own base URL
                f"{base_url}/healthz", timeout=2, context=context
            ) as reply:
                if reply.status == 200:
                    return
                last = reply.status
        except (urllib.error.URLError, OSError) as exc:
            last = exc
        time.sleep(0.05)
    raise TimeoutError(f"gateway at {base_url} not healthy: {last}")


def start_gateway(
    grpc_address: str,
    *,
    log_path: Path | None = None,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    wait: bool = True,
    https_ca: Path | None = None,
) -> tuple[str, Callable[[], int]]:
    """Start the gateway in front of `grpc_address`; returns (base_url, stop).

    stop() sends SIGTERM (a graceful stop) and returns the exit code. The
    gateway's access log goes to `log_path` (a temporary file by default).
    `args` are more flags, `env` more environment variables. With
    `wait=False` it returns once the gateway listens, without waiting for the
    gRPC server to be healthy (for a gateway in front of no server). With
    `https_ca` (and -tls-cert/-tls-key in `args`), the base URL is https and is
    checked with that CA.
    """
    binary = build_gateway()
    workdir = Path(tempfile.mkdtemp(prefix="extrepo-gateway-"))
    port_file = workdir / "port"
    log_path = log_path or workdir / "gateway.log"
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("EXTREPO_")}
    child_env.update(env or {})
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [
                str(binary),
                "-listen",
                "127.0.0.1:0",
                "-grpc-address",
                grpc_address,
                "-port-file",
                str(port_file),
                *args,
            ],
            stdout=log,
            stderr=log,
            env=child_env,
        )
    deadline = time.monotonic() + START_TIMEOUT_SECONDS

    def stop() -> int:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            return process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()

    try:
        while not port_file.exists():
            if process.poll() is not None:
                raise RuntimeError(f"gateway exited at start:\n{log_path.read_text()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"gateway did not start:\n{log_path.read_text()}")
            time.sleep(0.02)
        scheme = "https" if https_ca is not None else "http"
        base_url = f"{scheme}://127.0.0.1:{int(port_file.read_text())}"
        context = None if https_ca is None else ssl.create_default_context(cafile=str(https_ca))
        if wait:
            wait_healthy(base_url, deadline, process, context)
    except BaseException:
        stop()
        raise
    stop.log_path = log_path  # type: ignore[attr-defined]
    return base_url, stop
