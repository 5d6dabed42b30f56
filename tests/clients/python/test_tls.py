"""TLS options, against the real server behind a TLS-terminating proxy whose
certificates come from a throwaway CA (the server speaks TLS itself in a later issue)."""

from __future__ import annotations

import extrepo
import pytest

from .certs import SERVER_NAME, make_pki, server_context
from .proxy import Proxy


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def tls_proxy(server, pki):
    with Proxy(server.address, tls=server_context(pki)) as proxy:
        yield proxy


@pytest.fixture
def mtls_proxy(server, pki):
    with Proxy(server.address, tls=server_context(pki, require_client_cert=True)) as proxy:
        yield proxy


def tls_client(proxy, user, **options) -> extrepo.Client:
    return extrepo.Client(proxy.address, username=user.name, api_key=user.api_key, **options)


def test_tls_with_a_ca_file_and_a_server_name(tls_proxy, pki, user, repo_name):
    name = repo_name()
    with tls_client(
        tls_proxy, user, tls_ca_file=str(pki.ca_file), tls_server_name=SERVER_NAME
    ) as client:
        client.Repository.create(name=name, username="puller", password="s3cret").save()
        assert [r.name for r in client.Repository.list()] == [name]


# The failing cases call Delete: a write is not retried, so it fails at once (a read
# would fail the same way after the retries' backoff).
NAME = "registry.local/user1/image1"


def test_tls_refuses_a_certificate_it_cannot_verify(tls_proxy, pki, user):
    # The system's roots do not know the test CA.
    client = tls_client(tls_proxy, user, tls=True, tls_server_name=SERVER_NAME)
    with client, pytest.raises(extrepo.Unavailable):
        client.delete(NAME)
    # The right CA, but the certificate is for another name than the address.
    client = tls_client(tls_proxy, user, tls_ca_file=str(pki.ca_file))
    with client, pytest.raises(extrepo.Unavailable):
        client.delete(NAME)


def test_plaintext_to_a_tls_port_fails_clearly(tls_proxy, user):
    with tls_client(tls_proxy, user) as client, pytest.raises(extrepo.Unavailable):
        client.delete(NAME)


def test_mutual_tls_with_a_client_certificate(mtls_proxy, pki, user):
    common = {"tls_ca_file": str(pki.ca_file), "tls_server_name": SERVER_NAME}
    with tls_client(
        mtls_proxy,
        user,
        tls_client_cert_file=str(pki.client_cert_file),
        tls_client_key_file=str(pki.client_key_file),
        **common,
    ) as client:
        assert client.Repository.list() == []
    with tls_client(mtls_proxy, user, **common) as client, pytest.raises(extrepo.Unavailable):
        client.delete(NAME)
    with pytest.raises(extrepo.ConfigError, match="needs its key"):
        tls_client(mtls_proxy, user, tls_client_cert_file=str(pki.client_cert_file), **common)


def test_tls_settings_from_the_environment_and_the_cli(tls_proxy, pki, user, cli, repo_name):
    name = repo_name()
    tls_env = {
        "EXTREPO_ADDRESS": tls_proxy.address,
        "EXTREPO_TLS_CA_FILE": str(pki.ca_file),
        "EXTREPO_TLS_SERVER_NAME": SERVER_NAME,
    }
    assert cli.ok("repository", "register", "-u", "puller", "-p", "s3cret", name, env=tls_env)
    flags = ["--address", tls_proxy.address, "--tls-ca-file", str(pki.ca_file)]
    assert cli.ok(*flags, "--tls-server-name", SERVER_NAME, "repository", "ls", "-q") == (
        name + "\n"
    )
    refused = cli(*flags, "repository", "rm", name)  # the certificate names another host
    assert refused.returncode == 1
    assert "cannot reach the extrepo server" in refused.stderr


def test_tls_flags_of_the_cli(tls_proxy, mtls_proxy, pki, cli, server):
    trust = ["--tls-ca-file", str(pki.ca_file), "--tls-server-name", SERVER_NAME]
    client_cert = ["--tls-client-cert", str(pki.client_cert_file)]
    client_key = ["--tls-client-key", str(pki.client_key_file)]
    mtls = ["--address", mtls_proxy.address, *trust]
    assert cli.ok(*mtls, *client_cert, *client_key, "repository", "ls") == "NAME   IN_USE\n"
    without_cert = cli(*mtls, "repository", "rm", NAME)
    assert without_cert.returncode == 1 and "cannot reach" in without_cert.stderr
    half = cli(*mtls, *client_cert, "repository", "ls")
    assert half.returncode == 2 and "needs its key" in half.stderr

    # --tls alone trusts the system's roots, which do not know the test CA.
    system_roots = cli("--address", tls_proxy.address, "--tls", "repository", "rm", NAME)
    assert system_roots.returncode == 1 and "cannot reach" in system_roots.stderr
    # --no-tls: plaintext even with TLS settings in the environment.
    tls_env = {"EXTREPO_TLS": "true", "EXTREPO_TLS_CA_FILE": str(pki.ca_file)}
    assert cli.ok("--no-tls", "repository", "ls", env=tls_env) == "NAME   IN_USE\n"
    assert cli("repository", "rm", NAME, env=tls_env).returncode == 1  # TLS to a plaintext port
