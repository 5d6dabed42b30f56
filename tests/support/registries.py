"""Fixtures: real registries for the credential checks (harness/registries.py).

- `test_ca`: the throwaway CA every test registry's certificate comes from; its PEM
  is what a server is told to trust (EXTREPO_REGISTRY_CA_FILE).
- `basic_registry`, `token_registry`: the reference registry with htpasswd and with
  token authentication, `team/app:1.0` in each. Users: `puller` (password
  `pull-pass`) may pull everything on the basic one and `team/app` (and
  `team/absent`) on the token one; `outsider` (`outsider-pass`) on the token one may
  pull only `other/thing`.
- `checking_env`: the environment a LiveServer needs to check against them: checks
  on (the default policy), loopback allowed, the test CA trusted.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.registries import TestCA, TestRegistry

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
def checking_env(test_ca) -> dict[str, str]:
    return {
        "EXTREPO_VERIFICATION": "refuse-rejected",
        "EXTREPO_REGISTRY_ALLOW": "127.0.0.0/8",
        "EXTREPO_REGISTRY_CA_FILE": str(test_ca.pem),
        "EXTREPO_REGISTRY_TIMEOUT_SECONDS": "3",
    }
