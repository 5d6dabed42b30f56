"""Fixtures: real registries for the credential checks (harness/registries.py).

- `test_ca`: the throwaway CA every test registry's certificate comes from; its PEM
  is what a server is told to trust (EXTREPO_REGISTRY_CA_FILE).
- `basic_registry`, `token_registry`: the reference registry with htpasswd and with
  token authentication, `team/app:1.0` in each. Users: `puller` (password
  `pull-pass`) may pull everything on the basic one and `team/app` (and
  `team/absent`) on the token one; `outsider` (`outsider-pass`) on the token one may
  pull only `other/thing`.
- `open_registry`: the reference registry without authentication (anyone may pull),
  `team/app:1.0` in it.
- `checking_env`: the environment a LiveServer needs to check against them: checks
  on (the default policy), loopback allowed, the test CA trusted.
- Servers a check must not accept, each with `.host` (`127.0.0.1:PORT`) and
  `.requests` (method, path, headers of each request it got): `web_server` (a plain
  HTTPS site: NOT_A_REGISTRY), `untrusted_server` (a certificate from another CA:
  TLS_ERROR), `redirecting_registry` (its token realm redirects to another host:
  REGISTRY_ERROR; `.recorder.requests` stays empty: no credentials went there).
  `down_host`: a loopback host:port nothing listens on (REGISTRY_UNREACHABLE).

The registries are shared by the whole session: a test that changes a password adds
its own user first (`add_user`, then `set_password`; both take effect at once, no
restart), or starts its own `TestRegistry`. `log_text()` is the registry's access
log (to prove a request did or did not arrive); `issuer.issued` counts tokens.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.registries import (
    HttpsServer,
    RedirectingRegistry,
    TestCA,
    TestRegistry,
    free_port,
    untrusted_server,
    web_server,
)

PULLER = ("puller", "pull-pass")
OUTSIDER = ("outsider", "outsider-pass")


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("registry-ca"))


@pytest.fixture(scope="session")
def basic_registry(test_ca, tmp_path_factory) -> Iterator[TestRegistry]:
    with TestRegistry(tmp_path_factory.mktemp("basic-registry"), test_ca, "basic") as registry:
        registry.add_user(*PULLER)
        yield registry


@pytest.fixture(scope="session")
def token_registry(test_ca, tmp_path_factory) -> Iterator[TestRegistry]:
    with TestRegistry(tmp_path_factory.mktemp("token-registry"), test_ca, "token") as registry:
        registry.add_user(*PULLER, pull={"team/app", "team/absent"})
        registry.add_user(*OUTSIDER, pull={"other/thing"})
        yield registry


@pytest.fixture(scope="session")
def open_registry(test_ca, tmp_path_factory) -> Iterator[TestRegistry]:
    with TestRegistry(tmp_path_factory.mktemp("open-registry"), test_ca, "none") as registry:
        yield registry


@pytest.fixture(scope="session")
def checking_env(test_ca) -> dict[str, str]:
    return {
        "EXTREPO_VERIFICATION": "refuse-rejected",
        "EXTREPO_REGISTRY_ALLOW": "127.0.0.0/8",
        "EXTREPO_REGISTRY_CA_FILE": str(test_ca.pem),
        "EXTREPO_REGISTRY_TIMEOUT_SECONDS": "3",
    }


@pytest.fixture(scope="session", name="web_server")
def web_server_fixture(test_ca) -> Iterator[HttpsServer]:
    server = web_server(test_ca)
    yield server
    server.close()


@pytest.fixture(scope="session", name="untrusted_server")
def untrusted_server_fixture(tmp_path_factory) -> Iterator[HttpsServer]:
    server = untrusted_server(tmp_path_factory.mktemp("untrusted-ca"))
    yield server
    server.close()


@pytest.fixture(scope="session")
def redirecting_registry(test_ca) -> Iterator[RedirectingRegistry]:
    registry = RedirectingRegistry(test_ca)
    yield registry
    registry.close()


@pytest.fixture
def down_host() -> str:
    return f"127.0.0.1:{free_port()}"
