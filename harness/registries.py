"""Real container registries for tests and benchmarks: Debian's `docker-registry`
(distribution 2.8, the reference implementation) on a free loopback port, over TLS
from a throwaway CA, with one small image in `team/app`.

Three ways to authenticate, as registries in the field do:
- `none`: anyone may pull (and push).
- `basic`: htpasswd (bcrypt entries); every user may pull everything. Passwords can
  change while it runs (`set_password`): the registry re-reads the file.
- `token`: the Docker token flow. `TokenIssuer` (below) is the token service: it
  checks Basic credentials against its own users and signs JWTs (ES256, the signing
  certificate in the `x5c` header) that the registry verifies against the issuer's
  certificate (`auth.token.rootcertbundle`). Each user may pull only the repositories
  listed for them; a scope asked beyond that gets a token without that access, as
  Docker's own issuer answers, so the registry then refuses.

And servers that are not registries, for the checks' failure cases: a plain web
server, a server with a certificate from another CA, a registry whose token realm
redirects to another host (which records whether credentials arrived).

The binary: $EXTREPO_REGISTRY_BIN, else `docker-registry` on PATH (Debian package
`docker-registry`; .ci/run installs it).
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt
import httpx
import jwt
import trustme

START_TIMEOUT_SECONDS = 30
SEEDED_REPOSITORY = "team/app"
SEEDED_TAG = "1.0"
ADMIN = ("admin", "admin-pass")


def registry_binary() -> str:
    explicit = os.environ.get("EXTREPO_REGISTRY_BIN")
    found = explicit or shutil.which("docker-registry")
    if not found or not Path(found).exists():
        raise RuntimeError(
            "the reference registry is missing: install Debian's `docker-registry` package "
            "(apt-get install docker-registry) or set EXTREPO_REGISTRY_BIN"
        )
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TestCA:
    """A throwaway CA, its PEM file, and server certificates for loopback names."""

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ca = trustme.CA()
        self.pem = directory / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.pem))

    def server_files(self, name: str, *hosts: str) -> tuple[Path, Path]:
        """A certificate (with chain) and key for `hosts`, as files."""
        cert = self.ca.issue_cert(*(hosts or ("127.0.0.1", "localhost")))
        cert_path, key_path = self.directory / f"{name}.crt", self.directory / f"{name}.key"
        cert.cert_chain_pems[0].write_to_path(str(cert_path))
        for extra in cert.cert_chain_pems[1:]:
            extra.write_to_path(str(cert_path), append=True)
        cert.private_key_pem.write_to_path(str(key_path))
        return cert_path, key_path

    def server_context(self, name: str, *hosts: str) -> ssl.SSLContext:
        cert_path, key_path = self.server_files(name, *hosts)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(cert_path), str(key_path))
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.pem))


# -- a small HTTPS server in a thread ----------------------------------------------


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


class HttpsServer:
    """An HTTPS server on loopback running `handle(request_handler)` per request, in a
    thread. `requests` records (method, path, headers) of each request."""

    def __init__(self, context: ssl.SSLContext, handle: Callable) -> None:
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests.append((self.command, self.path, dict(self.headers)))
                handle(self)

            do_HEAD = do_GET

            def log_message(self, *args) -> None:
                pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        # shutdown() waits up to one poll interval: short, as tests start dozens.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def answer(
    handler: http.server.BaseHTTPRequestHandler,
    status: int,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> None:
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("content-length", str(len(body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


# -- servers that are not what a check should accept ----------------------------------


def web_server(ca: TestCA) -> HttpsServer:
    """A plain HTTPS web server (trusted certificate) answering 200 to everything,
    without the Docker-Distribution-API-Version header: NOT_A_REGISTRY."""
    return HttpsServer(ca.server_context("web"), lambda h: answer(h, 200, b"<html></html>"))


def untrusted_server(directory: Path) -> HttpsServer:
    """An HTTPS server whose certificate comes from a CA nobody trusts: TLS_ERROR."""
    return HttpsServer(TestCA(directory).server_context("untrusted"), lambda h: answer(h, 200))


class RedirectingRegistry:
    """A registry (`host`) whose `/v2/` asks for a bearer token from a realm on another
    port, which redirects (302) to a third server, `recorder`, that answers a token to
    anyone. `recorder.requests` shows whether anything, credentials above all, reached
    it: a check must stop at the cross-host redirect (REGISTRY_ERROR)."""

    def __init__(self, ca: TestCA) -> None:
        self.recorder = HttpsServer(
            ca.server_context("recorder"), lambda h: answer(h, 200, b'{"token":"stolen"}')
        )
        target = f"https://{self.recorder.host}/token"
        self.realm = HttpsServer(
            ca.server_context("realm"), lambda h: answer(h, 302, b"", {"location": target})
        )
        challenge = f'Bearer realm="https://{self.realm.host}/token",service="redirecting"'
        self.registry = HttpsServer(
            ca.server_context("redirecting"),
            lambda h: answer(
                h,
                401,
                b"{}",
                {"docker-distribution-api-version": "registry/2.0", "www-authenticate": challenge},
            ),
        )
        self.host = self.registry.host

    def close(self) -> None:
        for server in (self.registry, self.realm, self.recorder):
            server.close()


# -- the token service ---------------------------------------------------------------


@dataclass
class TokenUser:
    password: str
    # Repositories the user may pull (and push, for `pusher`); "*" is every one.
    pull: set[str] = field(default_factory=set)
    push: bool = False


class TokenIssuer:
    """The Docker registry token service (distribution's docs/spec/auth/token.md)."""

    SERVICE = "extrepo-test-registry"
    ISSUER = "extrepo-test-issuer"

    def __init__(self, ca: TestCA, directory: Path) -> None:
        # The signing key's certificate is the registry's trust root for tokens.
        self._signer = ca.ca.issue_cert("extrepo-test-issuer")
        self.bundle = directory / "issuer.pem"
        self._signer.cert_chain_pems[0].write_to_path(str(self.bundle))
        self._key = self._signer.private_key_pem.bytes()
        der = ssl.PEM_cert_to_DER_cert(self._signer.cert_chain_pems[0].bytes().decode())
        self._x5c = [base64.b64encode(der).decode()]
        self.users: dict[str, TokenUser] = {ADMIN[0]: TokenUser(ADMIN[1], {"*"}, push=True)}
        self.issued = 0
        self._server = HttpsServer(ca.server_context("issuer"), self._handle)
        self.realm = f"https://{self._server.host}/token"

    def close(self) -> None:
        self._server.close()

    def _handle(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        from urllib.parse import parse_qs, urlsplit

        user = self._authenticated(handler.headers.get("authorization", ""))
        if user is None:
            answer(handler, 401, b'{"details":"incorrect username or password"}')
            return
        query = parse_qs(urlsplit(handler.path).query)
        access = []
        for scope in query.get("scope", []):
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if kind != "repository":
                continue
            account = self.users[user]
            granted = []
            if "*" in account.pull or name in account.pull:
                granted = [a for a in actions.split(",") if a == "pull" or account.push]
            access.append({"type": "repository", "name": name, "actions": granted})
        now = int(time.time())
        claims = {
            "iss": self.ISSUER,
            "sub": user,
            "aud": query.get("service", [""])[0],
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        token = jwt.encode(claims, self._key, algorithm="ES256", headers={"x5c": self._x5c})
        self.issued += 1
        body = json.dumps({"token": token, "expires_in": 300}).encode()
        answer(handler, 200, body, {"content-type": "application/json"})

    def _authenticated(self, header: str) -> str | None:
        if not header.lower().startswith("basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return None
        account = self.users.get(user)
        return user if account is not None and account.password == password else None


# -- the registry ------------------------------------------------------------------------


class TestRegistry:
    """`docker-registry serve` on a free loopback port, TLS from `ca`, with `team/app:1.0`.

    `auth` is "basic" (htpasswd), "token" (with a TokenIssuer) or "none" (anyone may
    pull and push, as a registry on a trusted network). `host` is `127.0.0.1:PORT`.
    """

    __test__ = False

    def __init__(self, directory: Path, ca: TestCA, auth: str) -> None:
        self.directory = directory
        self.ca = ca
        self.auth = auth
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.log_path = directory / "registry.log"
        self.htpasswd = directory / "htpasswd"
        self.issuer: TokenIssuer | None = None
        self._process: subprocess.Popen | None = None
        self._passwords: dict[str, str] = {}

    # -- users ---------------------------------------------------------------------

    def add_user(self, user: str, password: str, pull: set[str] | None = None) -> None:
        """A user; for token auth, allowed to pull `pull` (default: everything)."""
        if self.issuer is not None:
            self.issuer.users[user] = TokenUser(password, pull if pull is not None else {"*"})
        else:
            self._passwords[user] = password
            self._write_htpasswd()

    def set_password(self, user: str, password: str) -> None:
        """Change a password while the registry runs, as an operator would. The token
        issuer reads its users table per request. distribution 2.8 re-reads its
        htpasswd file when the file's modification time changed, at the next
        authenticated request (registry/auth/htpasswd/access.go, "Dynamically parsing
        the latest account list"): no restart; the same process answers."""
        if self.issuer is not None:
            self.issuer.users[user].password = password
            return
        self._passwords[user] = password
        self._write_htpasswd()

    def _write_htpasswd(self) -> None:
        """Replaces the file whole (the registry never reads half of it), with a
        modification time later than the old one's: the file's clock ticks coarsely
        (milliseconds), and the registry compares the time, not the content."""
        lines = [
            f"{user}:{bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=4)).decode()}"
            for user, pw in sorted(self._passwords.items())
        ]
        before = self.htpasswd.stat().st_mtime_ns if self.htpasswd.exists() else 0
        staged = self.htpasswd.with_suffix(".new")
        staged.write_text("\n".join(lines) + "\n")
        later = max(time.time_ns(), before + 1_000_000)
        os.utime(staged, ns=(later, later))
        os.replace(staged, self.htpasswd)

    @property
    def pid(self) -> int | None:
        """The registry process's id while it runs."""
        return None if self._process is None else self._process.pid

    # -- process -------------------------------------------------------------------

    def __enter__(self) -> TestRegistry:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.auth not in ("basic", "token", "none"):
            raise ValueError(f"no such registry authentication: {self.auth}")
        if self.auth == "token":
            self.issuer = TokenIssuer(self.ca, self.directory)
        elif self.auth == "basic":
            self._passwords[ADMIN[0]] = ADMIN[1]
            self._write_htpasswd()
        try:
            self.start()
            self.seed()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self.issuer is not None:
            self.issuer.close()

    def _config(self) -> Path:
        cert, key = self.ca.server_files("registry")
        if self.issuer is not None:
            auth = (
                "  token:\n"
                f"    realm: {self.issuer.realm}\n"
                f"    service: {TokenIssuer.SERVICE}\n"
                f"    issuer: {TokenIssuer.ISSUER}\n"
                f"    rootcertbundle: {self.issuer.bundle}\n"
            )
        elif self.auth == "basic":
            auth = f"  htpasswd:\n    realm: extrepo-test\n    path: {self.htpasswd}\n"
        else:
            auth = ""
        config = self.directory / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: info\n  accesslog:\n    disabled: false\n"
            f"storage:\n  filesystem:\n    rootdirectory: {self.directory / 'data'}\n"
            "  delete:\n    enabled: true\n"
            f"http:\n  addr: 127.0.0.1:{self.port}\n"
            f"  tls:\n    certificate: {cert}\n    key: {key}\n"
            + (f"auth:\n{auth}" if auth else "")
        )
        return config

    def start(self) -> None:
        config = self._config()
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [registry_binary(), "serve", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={"PATH": os.environ.get("PATH", "")},
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        with httpx.Client(verify=self.ca.client_context(), timeout=2) as client:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    break
                try:
                    client.get(f"https://{self.host}/v2/")
                    return
                except httpx.HTTPError:
                    time.sleep(0.05)
        self.stop()
        raise RuntimeError(
            f"docker-registry did not start on {self.host}; its log:\n"
            + self.log_path.read_text(errors="replace")[-3000:]
        )

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # -- content ---------------------------------------------------------------------

    def _admin_headers(self, client: httpx.Client, repository: str) -> dict[str, str]:
        if self.auth == "none":
            return {}
        if self.issuer is None:
            pair = f"{ADMIN[0]}:{ADMIN[1]}".encode()
            return {"authorization": "Basic " + base64.b64encode(pair).decode()}
        token = client.get(
            self.issuer.realm,
            params={"service": TokenIssuer.SERVICE, "scope": f"repository:{repository}:pull,push"},
            auth=ADMIN,
        ).json()["token"]
        return {"authorization": f"Bearer {token}"}

    def seed(self, repository: str = SEEDED_REPOSITORY, tag: str = SEEDED_TAG) -> None:
        """Push a tiny image (a config blob, a layer blob, a schema-2 manifest)."""
        base = f"https://{self.host}/v2/{repository}"
        with httpx.Client(verify=self.ca.client_context(), timeout=10) as client:
            headers = self._admin_headers(client, repository)
            config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
            layer = b"extrepo test layer"
            descriptors = []
            for blob in (config, layer):
                digest = "sha256:" + hashlib.sha256(blob).hexdigest()
                started = client.post(f"{base}/blobs/uploads/", headers=headers)
                started.raise_for_status()
                location = httpx.URL(f"https://{self.host}").join(started.headers["location"])
                done = client.put(
                    location.copy_merge_params({"digest": digest}),
                    content=blob,
                    headers={**headers, "content-type": "application/octet-stream"},
                )
                done.raise_for_status()
                descriptors.append({"size": len(blob), "digest": digest})
            manifest = {
                "schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {
                    "mediaType": "application/vnd.docker.container.image.v1+json",
                    **descriptors[0],
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                        **descriptors[1],
                    }
                ],
            }
            put = client.put(
                f"{base}/manifests/{tag}",
                content=json.dumps(manifest).encode(),
                headers={
                    **headers,
                    "content-type": "application/vnd.docker.distribution.manifest.v2+json",
                },
            )
            put.raise_for_status()


def main() -> None:
    """`python -m harness.registries`: a registry to try the credential checks on
    (README, "Credential checks"): TLS from a CA written to DIR/ca.pem, htpasswd
    user `puller` (password `s3cret`), `team/app:1.0` pushed; until Ctrl-C."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(description=main.__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--dir", default=".demo-registry", help="where its files go")
    parser.add_argument("--auth", choices=["basic", "token", "none"], default="basic")
    args = parser.parse_args()
    directory = Path(args.dir).resolve()
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    ca = TestCA(directory)
    registry = TestRegistry(directory / "registry", ca, args.auth)
    registry.port, registry.host = args.port, f"127.0.0.1:{args.port}"
    with registry:
        registry.add_user("puller", "s3cret")
        print(
            f"registry: {registry.host} (auth: {args.auth}), image team/app:1.0\n"
            f"user: puller / s3cret\n"
            f"serve extrepo with:\n"
            f"  EXTREPO_REGISTRY_ALLOW=127.0.0.1 EXTREPO_REGISTRY_CA_FILE={ca.pem}\n"
            "Ctrl-C stops it.",
            flush=True,
        )
        stops = {signal.SIGINT, signal.SIGTERM}
        signal.pthread_sigmask(signal.SIG_BLOCK, stops)  # delivered to sigwait only
        signal.sigwait(stops)


if __name__ == "__main__":
    main()
